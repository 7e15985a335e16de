/**
 * CODES is the registry of every diagnostic code the compiler emits; docs/diagnostics.md
 * documents each one (test/compiler/codes.test.ts checks the page lists exactly these codes).
 * A code, once published, keeps its meaning forever; retire it instead of reusing it.
 *
 * Numbering follows the pass that finds it: 1xx load, 2xx parse, 3xx validate, 4xx resolve,
 * 5xx analyze, 6xx lower/emit, 7xx CUE, 9xx internal.
 */
import type { Severity } from './types.js';

export interface CodeInfo {
  /** Short kebab-case name, shown next to the code. */
  name: string;
  severity: Severity;
  /** What it means, one sentence. */
  meaning: string;
  /** How to fix it, one sentence. */
  fix: string;
}

export const CODES = {
  // load
  WFT101: { name: 'file-too-large', severity: 'error', meaning: 'A policy file is larger than the size limit and was not read.', fix: 'Split the file, or raise the limit with --max-file-size if the size is intended.' },
  WFT102: { name: 'path-not-found', severity: 'error', meaning: 'The directory to compile does not exist or cannot be read.', fix: 'Check the path; with --rev, check that the path exists at that revision.' },
  WFT103: { name: 'bad-revision', severity: 'error', meaning: 'The git revision does not exist, or the directory is not inside a git repository.', fix: 'Use a branch, tag, SHA or expression such as HEAD~1 that `git rev-parse` accepts.' },
  WFT104: { name: 'no-policy-files', severity: 'warning', meaning: 'No *.yaml, *.yml or *.cue file was found.', fix: 'Point the command at the folder that holds the policies.' },
  WFT105: { name: 'symlink-outside', severity: 'error', meaning: 'A policy file is a symlink whose target is outside the folder being compiled; it was not read.', fix: 'Copy the file into the folder, or compile a folder that contains the target.' },
  // parse
  WFT201: { name: 'yaml-syntax', severity: 'error', meaning: 'The file is not valid YAML.', fix: 'Fix the syntax at the position shown (indentation, quoting, a missing colon).' },
  WFT202: { name: 'duplicate-key', severity: 'error', meaning: 'A mapping has the same key twice; YAML would silently keep only one.', fix: 'Remove or merge the repeated key.' },
  WFT203: { name: 'not-a-resource', severity: 'error', meaning: 'A document is not a mapping with apiVersion, kind, metadata and spec.', fix: 'Give the document apiVersion, kind, metadata.name and spec.' },
  WFT204: { name: 'unknown-kind', severity: 'error', meaning: 'The kind is not one Weft knows.', fix: 'Use HTTPRoute, GRPCRoute, Service, BackendPolicy, RateLimitPolicy, AuthorizationPolicy, Fault, MeshConfig or RouteTest.' },
  WFT205: { name: 'wrong-api-version', severity: 'error', meaning: 'The apiVersion does not match the kind.', fix: 'Use gateway.networking.k8s.io/v1 for HTTPRoute and GRPCRoute, and weft.dev/v1alpha1 for the Weft kinds.' },
  WFT206: { name: 'yaml-unsupported', severity: 'error', meaning: 'The YAML uses a feature Weft refuses (too many aliases, a non-string key, a custom tag).', fix: 'Write the value out plainly.' },
  // validate
  WFT301: { name: 'schema-violation', severity: 'error', meaning: 'A field has the wrong type or an out-of-range or malformed value.', fix: 'Change the value to what the message asks for; docs/policies.md lists every field.' },
  WFT302: { name: 'unknown-field', severity: 'error', meaning: 'A field is not part of the kind (often a typo).', fix: 'Remove the field or correct its name (the hint suggests the closest known field).' },
  WFT303: { name: 'missing-field', severity: 'error', meaning: 'A required field is absent.', fix: 'Add the field.' },
  WFT304: { name: 'invalid-duration', severity: 'error', meaning: 'A duration is not in Gateway API form (GEP-2257), such as 1h, 30s, 250ms or 1m30s.', fix: 'Write up to four number+unit pairs with units h, m, s or ms; non-zero values must be at least 1ms.' },
  WFT305: { name: 'invalid-path', severity: 'error', meaning: 'A path value breaks the Gateway API rules (must start with /, no //, /./, /../, %2f or #).', fix: 'Write the path in normalised form.' },
  WFT306: { name: 'invalid-name', severity: 'error', meaning: 'A metadata name or namespace is not a DNS-1123 label or subdomain.', fix: 'Use lower-case letters, digits and -, starting and ending with a letter or digit.' },
  // resolve
  WFT401: { name: 'duplicate-resource', severity: 'error', meaning: 'Two resources share kind, namespace and name.', fix: 'Rename or remove one of them (both places are named in the message).' },
  WFT402: { name: 'parent-not-found', severity: 'error', meaning: 'An HTTPRoute parentRef names a Service that does not exist.', fix: 'Correct the name or namespace, or add the Service.' },
  WFT403: { name: 'backend-not-found', severity: 'error', meaning: 'A backendRef or mirror names a Service that does not exist (the spec would answer 500 at run time; Weft refuses it at compile time).', fix: 'Correct the name or namespace, or add the Service.' },
  WFT404: { name: 'port-not-found', severity: 'error', meaning: 'A reference names a port the Service does not declare, or omits the port of a Service with several ports.', fix: 'Use one of the Service\'s ports.' },
  WFT405: { name: 'target-not-found', severity: 'error', meaning: 'A policy targetRef names a resource that does not exist.', fix: 'Correct the target, or remove the policy.' },
  WFT406: { name: 'extension-not-found', severity: 'error', meaning: 'An ExtensionRef filter names a Fault that does not exist (the spec forbids skipping it).', fix: 'Correct the name, or add the Fault.' },
  WFT407: { name: 'unsupported-ref', severity: 'error', meaning: 'A reference has a group or kind Weft does not support (for example a Gateway parent, or a backend that is not a Service).', fix: 'Reference a core Service (group "" and kind Service), or a weft.dev Fault for ExtensionRef.' },
  WFT408: { name: 'duplicate-meshconfig', severity: 'error', meaning: 'More than one MeshConfig exists; there can be one per repository.', fix: 'Merge them into one.' },
  WFT409: { name: 'conflicting-policy', severity: 'error', meaning: 'Two policies of the same kind attach to one target where only one can apply (BackendPolicy).', fix: 'Merge them into one policy.' },
  WFT410: { name: 'unknown-caller', severity: 'error', meaning: 'A RouteTest `from` or an AuthorizationPolicy `from.service` names a Service that does not exist.', fix: 'Correct the name or namespace.' },
  WFT411: { name: 'egress-not-found', severity: 'error', meaning: 'An egress entry NAMESPACE/NAME names a Service that does not exist, so calls to it would always be refused.', fix: 'Correct the name or namespace (the hint suggests the closest Service), or remove the entry.' },
  WFT412: { name: 'egress-empty-namespace', severity: 'warning', meaning: 'An egress entry NAMESPACE/* names a namespace that holds no Service: it allows nothing today.', fix: 'Correct the namespace, or remove the entry.' },
  // analyze
  WFT501: { name: 'shadowed-match', severity: 'warning', meaning: 'A match can never be chosen: an identical match of higher precedence, or earlier in order, takes all of its requests.', fix: 'Remove the duplicate match, or make it more specific.' },
  WFT502: { name: 'all-zero-weights', severity: 'warning', meaning: 'Every backendRef of a rule has weight 0; matching requests get 500 (Gateway API HTTPRouteAllBackendsWeightZero).', fix: 'Give at least one backend a positive weight, or remove the rule.' },
  WFT503: { name: 'backend-timeout-exceeds-request', severity: 'error', meaning: 'timeouts.backendRequest is longer than timeouts.request, which the spec forbids.', fix: 'Make backendRequest at most request, or set request to 0s.' },
  WFT504: { name: 'retry-code-out-of-range', severity: 'error', meaning: 'A retry code is outside 400–599.', fix: 'Use HTTP error codes 400–599 (500, 502, 503 and 504 are always supported).' },
  WFT505: { name: 'redirect-with-backends', severity: 'error', meaning: 'A rule both redirects and names backends; the redirect answers every request, so the backends are dead.', fix: 'Remove the backendRefs, or the RequestRedirect filter.' },
  WFT506: { name: 'prefix-rewrite-needs-prefix-match', severity: 'error', meaning: 'ReplacePrefixMatch is used in a rule that does not have exactly one PathPrefix match.', fix: 'Give the rule exactly one match with a PathPrefix path, or use ReplaceFullPath.' },
  WFT507: { name: 'repeated-filter', severity: 'error', meaning: 'A filter type appears twice where the spec allows one (header modifiers, redirect, rewrite), or RequestRedirect and URLRewrite share a rule.', fix: 'Merge the filters into one.' },
  WFT508: { name: 'invalid-regex', severity: 'error', meaning: 'A regular expression is not valid RE2 (no backreferences or lookaround: the proxy must never backtrack).', fix: 'Rewrite the expression in RE2 syntax.' },
  WFT509: { name: 'regex-too-complex', severity: 'error', meaning: 'A regular expression is too large or costly to run on every request.', fix: 'Simplify the expression, or use Exact / PathPrefix matches.' },
  WFT510: { name: 'orphaned-policy', severity: 'warning', meaning: 'A policy or Fault is attached to nothing and has no effect.', fix: 'Reference it from a route, or remove it.' },
  WFT511: { name: 'no-endpoints', severity: 'info', meaning: 'A Service that receives traffic lists no static endpoints: only instances that register with the controller get it (a Service fed by registration); proxies without a controller answer 503.', fix: 'Nothing, if its instances run a Weft proxy that registers; for an upstream that cannot register (a database, an external API), list its endpoints.' },
  WFT512: { name: 'rule-without-backends', severity: 'warning', meaning: 'A rule has neither backendRefs nor a redirect; matching requests get 500.', fix: 'Add a backendRef or a RequestRedirect filter.' },
  WFT513: { name: 'mirror-loop', severity: 'error', meaning: 'A RequestMirror sends copies to the route\'s own parent Service, which would mirror them again.', fix: 'Mirror to a different Service.' },
  WFT514: { name: 'hostnames-ignored', severity: 'info', meaning: 'HTTPRoute hostnames do not apply to Service parents (GAMMA): the route applies to all traffic to the Service.', fix: 'Remove the hostnames field.' },
  WFT515: { name: 'repeated-match-name', severity: 'warning', meaning: 'A match lists the same header or query parameter twice; only the first counts.', fix: 'Remove the repeated entry.' },
  WFT517: { name: 'route-kind-conflict', severity: 'warning', meaning: 'A GRPCRoute and an HTTPRoute attach to the same Service port; GRPCRoute wins (GEP-1294 route-type precedence) and the HTTPRoute is ignored there.', fix: 'Attach them to different Service ports, or route that traffic in one route kind.' },
  WFT516: { name: 'retry-without-budget-room', severity: 'warning', meaning: 'Retries are configured with more attempts than the request timeout can hold given the backoff.', fix: 'Lower attempts or backoff, or raise timeouts.request.' },
  // lower / emit
  WFT601: { name: 'bad-sign-key', severity: 'error', meaning: 'The signing key is not an ed25519 private key in PEM form.', fix: 'Create one with `weft keygen`.' },
  // CUE
  WFT701: { name: 'cue-error', severity: 'error', meaning: 'CUE evaluation failed: a conflict, a bound, or an incomplete value.', fix: 'Fix the CUE at the position shown.' },
  WFT702: { name: 'cue-syntax', severity: 'error', meaning: 'A CUE file does not parse.', fix: 'Fix the syntax at the position shown.' },
  WFT703: { name: 'cue-limit', severity: 'error', meaning: 'CUE evaluation took too long or produced too much output.', fix: 'Simplify the CUE program.' },
  WFT704: { name: 'cue-shape', severity: 'error', meaning: 'A CUE package has no top-level `resources` field, or it is not a list or struct of resources.', fix: 'Export resources as `resources: [...]` or `resources: name: {...}`.' },
  // internal
  WFT901: { name: 'internal-error', severity: 'error', meaning: 'The compiler failed on this input; this is a bug in Weft.', fix: 'Report it with the input that caused it.' },
} as const satisfies Record<string, CodeInfo>;

export type Code = keyof typeof CODES;
