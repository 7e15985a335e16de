import type { AuthorizationPolicyEntry, AuthorizationRule, AuthorizationSettings } from '../../schemas/bundle.js';
import type { CallerIdentity } from '../identity.js';
import { policyHeader } from './headers.js';

/** AuthorizationRequest is what rules look at. `path` must already be normalised (normalizePath). */
export interface AuthorizationRequest {
  caller: CallerIdentity | null;
  /** Upper-case method. */
  method: string;
  /** Normalised path, without the query. */
  path: string;
  /** Lower-case header names, as node:http gives them. */
  headers: Record<string, string | string[] | undefined>;
  /** The request's authority (what a `when` clause on `host` reads). */
  authority?: string;
}

/**
 * AuthorizationDecision says what happened and who decided:
 * - `deny-policy`: a DENY policy matched (`policy` names it);
 * - `allow-policy`: an ALLOW policy matched (`policy` names it);
 * - `no-allow-match`: the Service has ALLOW policies and none matched (`policies` lists them);
 * - `mesh-default`: no ALLOW policy; MeshConfig `authorization.default` decided.
 */
export type AuthorizationDecision =
  | { allowed: false; reason: 'deny-policy'; policy: string }
  | { allowed: true; reason: 'allow-policy'; policy: string }
  | { allowed: false; reason: 'no-allow-match'; policies: readonly string[] }
  | { allowed: boolean; reason: 'mesh-default'; default: 'allow' | 'deny' };

/**
 * authorize evaluates a Service's policies, in the order the compiler gave them: every DENY
 * policy first (any match denies, whatever an ALLOW says), then the ALLOW policies (any match
 * allows); with ALLOW policies present and none matching, deny; with none present, the mesh
 * default. Never throws; the decision always names what decided.
 */
export function authorize(settings: AuthorizationSettings, meshDefault: 'allow' | 'deny', req: AuthorizationRequest): AuthorizationDecision {
  for (const p of settings.deny) if (policyMatches(p, req, true)) return { allowed: false, reason: 'deny-policy', policy: p.policy };
  if (settings.allow.length === 0) return { allowed: meshDefault === 'allow', reason: 'mesh-default', default: meshDefault };
  for (const p of settings.allow) if (policyMatches(p, req, false)) return { allowed: true, reason: 'allow-policy', policy: p.policy };
  return { allowed: false, reason: 'no-allow-match', policies: settings.allow.map((p) => p.policy) };
}

/**
 * policyMatches is true when any rule of the policy matches. `deny` says the policy is a DENY
 * one, which changes how a header with several values is read (headerMatches).
 */
export function policyMatches(p: AuthorizationPolicyEntry, req: AuthorizationRequest, deny: boolean): boolean {
  for (const r of p.rules) if (ruleMatches(r, req, deny)) return true;
  return false;
}

/**
 * ruleMatches is true when every present clause matches; within a clause list any entry may
 * match. A `from` clause never matches an unidentified caller: "from reviews" must not admit a
 * request that merely lacks an identity.
 */
export function ruleMatches(r: AuthorizationRule, req: AuthorizationRequest, deny: boolean): boolean {
  // Plain loops, not some() with closures: this runs for every rule on every inbound request.
  if (r.from !== null) {
    const c = req.caller;
    if (c === null || !fromMatches(r.from, c)) return false;
  }
  if (r.to !== null && !toMatches(r.to, req.method, req.path)) return false;
  if (r.when !== null) {
    for (const w of r.when) if (!headerMatches(policyHeader(req.headers, w.header.toLowerCase(), req.authority), w.values, deny)) return false;
  }
  return true;
}

/** fromMatches: some `from` entry names the caller's Service and namespace. */
function fromMatches(from: NonNullable<AuthorizationRule['from']>, c: CallerIdentity): boolean {
  for (const f of from) if (f.service === c.service && f.namespace === c.namespace) return true;
  return false;
}

/** toMatches: some `to` entry admits the method (null: any) and the path (null: any). */
function toMatches(to: NonNullable<AuthorizationRule['to']>, method: string, path: string): boolean {
  for (const t of to) {
    if (t.methods !== null && !t.methods.includes(method)) continue;
    if (t.paths === null) return true;
    for (const p of t.paths) if (pathMatches(p, path)) return true;
  }
  return false;
}

/**
 * pathMatches: a pattern ending in `*` is a prefix match on what precedes the star (`*` alone
 * matches every path; `/ratings/*` matches `/ratings/` and below, not `/ratings`); any other
 * pattern is exact and case-sensitive.
 */
export function pathMatches(pattern: string, path: string): boolean {
  const n = pattern.length - 1;
  if (n < 0 || pattern.charCodeAt(n) !== 42 /* '*' */) return path === pattern;
  // path.startsWith(pattern minus its star), without making that prefix string per call.
  if (path.length < n) return false;
  for (let i = 0; i < n; i++) if (path.charCodeAt(i) !== pattern.charCodeAt(i)) return false;
  return true;
}

/**
 * headerMatches reads a `when` clause. A header sent twice reaches the proxy joined into one
 * value (`x-debug: 1` twice is `1, 1`: node:http and node:http2 join repeated fields with ", ",
 * as RFC 9110 §5.3 allows), and the app may read either the first line or the whole. So a value
 * with commas is also read as its comma-separated parts, in the direction that cannot be abused:
 *  - DENY (`deny` true): the clause matches when the whole value or ANY part is one of `values`,
 *    so repeating a header cannot slip past a DENY rule;
 *  - ALLOW: it matches when the whole value is one of `values`, or EVERY part is, so a second
 *    value cannot ride along with an allowed one.
 * Values are compared exactly; parts are trimmed of spaces and tabs. Arrays (set-cookie, or
 * callers that keep repeats apart) are read as parts.
 */
function headerMatches(v: string | readonly string[] | undefined, values: readonly string[], deny: boolean): boolean {
  if (v === undefined) return false;
  if (typeof v === 'string') {
    if (values.includes(v)) return true;
    if (v.indexOf(',') < 0) return false;
    return partsMatch(v.split(','), values, deny);
  }
  return partsMatch(v, values, deny);
}

/** partsMatch: any (deny) or every (allow) trimmed part is one of `values`; no parts matches nothing. */
function partsMatch(parts: readonly string[], values: readonly string[], deny: boolean): boolean {
  if (parts.length === 0) return false;
  for (const raw of parts) {
    const hit = values.includes(raw.trim());
    if (deny && hit) return true;
    if (!deny && !hit) return false;
  }
  return !deny;
}

/** describeDenial is the 403 body text: which policy, or which ALLOW policies, refused. */
export function describeDenial(d: AuthorizationDecision): string {
  switch (d.reason) {
    case 'deny-policy':
      return `denied by AuthorizationPolicy ${d.policy} (DENY)`;
    case 'no-allow-match':
      return `denied: no rule of AuthorizationPolicy ${d.policies.join(', ')} (ALLOW) matched`;
    case 'mesh-default':
      return d.allowed ? 'allowed by the mesh default' : 'denied by the mesh default (MeshConfig authorization.default: deny)';
    case 'allow-policy':
      return `allowed by AuthorizationPolicy ${d.policy}`;
  }
}
