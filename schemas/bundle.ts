/**
 * Bundle types: the one contract between the compiler and the runtime.
 *
 * `schemas/bundle.schema.json` describes the same document; test/schemas/bundle-schema.test.ts
 * checks that compiled bundles satisfy it, so the two cannot drift.
 *
 * Conventions: durations are integers in milliseconds; a timeout of 0 means "disabled";
 * every list the proxy chooses from is already in precedence order; ids are stable strings.
 */

export const BUNDLE_API_VERSION = 'weft.dev/bundle/v1' as const;

/** Bundle is one compiled commit. `digest` covers `spec` only (canonical JSON, sha256). */
export interface Bundle {
  apiVersion: typeof BUNDLE_API_VERSION;
  /** `sha256:<64 hex>` over canonicalJson(spec). */
  digest: string;
  /** Where the policies came from; null when compiled from a plain directory. */
  revision: Revision | null;
  /** The compiled content: everything that changes traffic. */
  spec: BundleSpec;
  /**
   * Where each route, rule and policy came from (file:line), for `weft explain` and errors.
   * Not covered by the digest: renaming a file does not make proxies reload.
   */
  sources: SourceMap;
  /** ed25519 over canonicalJson({digest, revision}); absent when unsigned. */
  signature?: BundleSignature;
}

export interface Revision {
  /** Full commit SHA. */
  commit: string;
  /** The ref that was asked for (`main`, `HEAD~1`, a SHA), or null. */
  ref: string | null;
  /** Sub-directory of the repository that was compiled ('' for the root). */
  path: string;
}

export interface BundleSignature {
  alg: 'ed25519';
  /** First 16 hex chars of sha256 over the public key's SPKI DER. */
  keyId: string;
  /** When it was signed (RFC 3339, UTC): a proxy refuses a bundle issued before its active one. */
  issuedAt: string;
  /** base64 signature over canonicalJson({digest, issuedAt, revision}). */
  value: string;
}

/** SourceMap maps a resource or rule id to where it was written. */
export interface SourceMap {
  /** key: resource id `Kind/namespace/name` or rule id; value: position. */
  [id: string]: SourceLocation;
}

export interface SourceLocation {
  file: string;
  line: number;
  column: number;
}

export interface BundleSpec {
  mesh: MeshSettings;
  /** Sorted by id (`namespace/name`). */
  services: ServiceEntry[];
}

/** MeshSettings are MeshConfig with built-in defaults filled in (docs/policies.md lists them). */
export interface MeshSettings {
  defaults: {
    timeouts: Timeouts;
    /** null: no retries unless a route asks. */
    retry: RetryPolicy | null;
    /** Egress scope of a caller whose Service is not in the bundle; absent: `*\/*`. */
    egress?: EgressScope;
  };
  authorization: { default: 'allow' | 'deny' };
  telemetry: { accessLog: boolean; tracing: boolean };
  /** MeshConfig spec.mtls; present only when PERMISSIVE (absent: STRICT). */
  mtls?: { mode: 'PERMISSIVE' };
}

export interface Timeouts {
  /** Whole transaction, retries included; 0 disables. */
  requestMs: number;
  /** One attempt; 0 disables. */
  backendRequestMs: number;
}

export interface RetryPolicy {
  /** Maximum number of retries after the first attempt (>= 1). */
  attempts: number;
  /** HTTP status codes (400..599) that are retried; connection errors are always retried. */
  codes: number[];
  /** Base backoff; exponential with full jitter, capped at 10x base. */
  backoffMs: number;
}

/** ServiceEntry is one mesh Service with everything that applies to traffic to it. */
export interface ServiceEntry {
  /** `namespace/name`. */
  id: string;
  name: string;
  namespace: string;
  ports: ServicePort[];
  /** Sorted by address then port. Empty is allowed (callers get 503). */
  endpoints: Endpoint[];
  /** Caller-side settings for traffic to this Service; defaults filled in. */
  backendPolicy: BackendPolicySettings;
  /** Inbound authorization: DENY policies first, then ALLOW, each sorted by name. */
  authorization: AuthorizationSettings;
  /** Inbound rate limits (RateLimitPolicies targeting this Service), sorted by policy name. */
  rateLimits: RateLimit[];
  /** Routing for traffic addressed to this Service. */
  routing: Routing;
  /** Effective inbound mTLS mode (Service override, else MeshConfig); present only when PERMISSIVE (absent: STRICT). */
  mtls?: { mode: 'PERMISSIVE' };
  /** What this Service's instances may call (MeshConfig default filled in); absent: `*\/*`. */
  egress?: EgressScope;
}

/**
 * EgressScope lists what a caller may reach: `NAMESPACE/NAME`, `NAMESPACE/*` or `*\/*`, sorted,
 * without repeats. A host outside it is unknown to that caller (404 WEFT_UNKNOWN_HOST).
 */
export type EgressScope = string[];

export interface ServicePort {
  name: string;
  port: number;
  appProtocol?: string;
}

export interface Endpoint {
  address: string;
  port: number;
  labels: Record<string, string>;
  /** Present only when true: a Weft inbound listener, reached with mTLS and its SPIFFE identity checked. */
  meshed?: true;
}

/**
 * Routing: the producer table applies to every caller; a consumer table (an HTTPRoute in the
 * caller's namespace, GAMMA) replaces it for callers in that namespace. A Service with no
 * HTTPRoute has `producer: null` and no consumers: traffic goes to its own endpoints.
 */
export interface Routing {
  producer: RouteTable | null;
  /** key: caller namespace. */
  consumers: Record<string, RouteTable>;
}

/**
 * RouteTable is one fully ordered list of matches. The first entry of `matches` that matches a
 * request wins: Gateway API precedence was decided by the compiler. `index` narrows candidates.
 */
export interface RouteTable {
  /** In precedence order; never empty. */
  matches: RouteMatch[];
  /** Actions, referenced by RouteMatch.rule. */
  rules: Rule[];
  index: RouteIndex;
}

/**
 * RouteIndex lists, for each kind of path match, which entries of `matches` can apply.
 * Lists are ascending (so the router takes the smallest index that matches).
 */
export interface RouteIndex {
  /** Exact path → match indexes. */
  exact: Record<string, number[]>;
  /** Normalised prefix (no trailing slash; "/" for the root) → match indexes. */
  prefix: Record<string, number[]>;
  /** Match indexes with a RegularExpression path. */
  regex: number[];
}

export interface RouteMatch {
  /** Index into RouteTable.rules. */
  rule: number;
  /** Stable id: `namespace/route#rule.match` (0-based). */
  id: string;
  path: PathMatch;
  /** Upper-case method, or null for any. */
  method: string | null;
  /** Lower-cased names; first occurrence of a name kept. */
  headers: ValueMatch[];
  queryParams: ValueMatch[];
  /** From parentRef.port; null = every port of the Service. */
  port: number | null;
}

export interface PathMatch {
  type: 'Exact' | 'PathPrefix' | 'RegularExpression';
  /** For PathPrefix, normalised: no trailing slash except the root "/". RE2 syntax for regex. */
  value: string;
}

export interface ValueMatch {
  type: 'Exact' | 'RegularExpression';
  name: string;
  value: string;
}

/** Rule is what happens to a request that matched: filters, then one backend or a direct response. */
export interface Rule {
  /** Stable id: `namespace/route#rule` (0-based rule index). */
  id: string;
  /** The route the rule comes from; `kind` is present only for a GRPCRoute (absent: HTTPRoute). */
  route: { kind?: 'GRPCRoute'; namespace: string; name: string };
  /** Filters in the order written (ExtensionRef Faults resolved to their spec). */
  filters: Filter[];
  /** Weight > 0 only, in the order written; empty with `direct` set. */
  backends: WeightedBackend[];
  /** Sum of backend weights plus the weight of backends that are invalid (answered 500). */
  totalWeight: number;
  /** Set when the rule answers without forwarding (no backends: 500; all weights zero: 503). */
  direct: { status: number; reason: string } | null;
  timeouts: Timeouts;
  retry: RetryPolicy | null;
  /** Outbound rate limits from RateLimitPolicies that target this rule's HTTPRoute. */
  rateLimits: RateLimit[];
}

export interface WeightedBackend {
  /** Service id `namespace/name`. */
  service: string;
  port: number;
  weight: number;
  /** Per-backend filters, run only when this backend is chosen. */
  filters: Filter[];
}

export type Filter =
  | { type: 'RequestHeaderModifier'; modifier: HeaderModifier }
  | { type: 'ResponseHeaderModifier'; modifier: HeaderModifier }
  | { type: 'RequestRedirect'; redirect: Redirect }
  | { type: 'URLRewrite'; rewrite: Rewrite }
  | { type: 'RequestMirror'; mirror: Mirror }
  | { type: 'Fault'; name: string; fault: FaultSpec };

export interface HeaderModifier {
  /** Names as written (matching is case-insensitive). */
  set: { name: string; value: string }[];
  add: { name: string; value: string }[];
  remove: string[];
}

export type PathModifier =
  | { type: 'ReplaceFullPath'; value: string }
  /** `prefix` is the PathPrefix the rule matched (normalised), fixed at compile time. */
  | { type: 'ReplacePrefixMatch'; value: string; prefix: string };

export interface Redirect {
  scheme: 'http' | 'https' | null;
  hostname: string | null;
  port: number | null;
  path: PathModifier | null;
  statusCode: 301 | 302 | 303 | 307 | 308;
}

export interface Rewrite {
  hostname: string | null;
  path: PathModifier | null;
}

export interface Mirror {
  service: string;
  port: number;
  /** 0..100, fractions allowed. */
  percent: number;
}

export interface FaultSpec {
  delay: { ms: number; percent: number } | null;
  abort: { status: number; percent: number } | null;
}

export interface BackendPolicySettings {
  /** Name of the BackendPolicy, or null when only defaults apply. */
  policy: string | null;
  loadBalancer:
    | { type: 'RoundRobin' | 'LeastRequest' | 'Random' }
    | { type: 'ConsistentHash'; hashOn: { header: string } | { clientAddress: true } };
  /** null: unlimited. */
  connectionPool: { maxConnections: number; maxPendingRequests: number } | null;
  /** null: no outlier detection. */
  outlierDetection: {
    consecutiveErrors: number;
    intervalMs: number;
    baseEjectionTimeMs: number;
    maxEjectionPercent: number;
  } | null;
  /** Always present: defaults 20% + 10/s over 10 s. */
  retryBudget: { percent: number; minRetriesPerSecond: number; intervalMs: number };
}

export interface AuthorizationSettings {
  /** Sorted by name. */
  deny: AuthorizationPolicyEntry[];
  /** Sorted by name. Empty: MeshSettings.authorization.default decides. */
  allow: AuthorizationPolicyEntry[];
}

export interface AuthorizationPolicyEntry {
  /** `namespace/name` of the AuthorizationPolicy. */
  policy: string;
  rules: AuthorizationRule[];
}

/** AuthorizationRule matches when every present clause matches (each clause is a list ORed). */
export interface AuthorizationRule {
  /** null: any caller, identified or not. Empty never happens. */
  from: { service: string; namespace: string }[] | null;
  to: { methods: string[] | null; paths: string[] | null }[] | null;
  when: { header: string; values: string[] }[] | null;
}

export interface RateLimit {
  /** `namespace/name` of the RateLimitPolicy. */
  policy: string;
  /** `caller` | `clientAddress` | `header:<lower-case name>`. */
  key: string;
  requests: number;
  perMs: number;
  burst: number;
}
