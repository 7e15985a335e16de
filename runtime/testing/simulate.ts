/**
 * simulate follows one request through the mesh as the proxies would handle it, without sending
 * anything: the caller's outbound proxy (route, rule filters, fault, outbound rate limits, weighted
 * backend choice, per-backend filters), then the receiving Service's inbound proxy (authorization,
 * rate limits). Every decision is made by the runtime's own code (runtime/router for routing and
 * weights; runtime/policy for hop-by-hop and forwarded headers, path normalisation, the FILTERS
 * table, authorization, rate limits and faults; compiler/precedence.ts to name the precedence
 * step that ordered two matches), so `weft test` and `weft explain` predict what the proxies do.
 *
 * Deterministic: no clock, no randomness. Weighted choice is reported as shares, not drawn; a
 * Fault fires only at 100% (a partial fault is reported, not drawn); a single request is never
 * rate limited, so rate limits are reported as "the Nth identical request at one instant is
 * refused", computed with the proxy's own token buckets.
 */
import type { Filter, Rule, ServiceEntry } from '../../schemas/bundle.js';
import { identityOf, type CallerIdentity } from '../identity.js';
import { backendShares, explainRoute, fieldSeparator, hostsFor, splitTarget, type RouteExplanation, type Router } from '../router/index.js';
import { mismatch, RequestView, type CompiledMatch } from '../router/table.js';
import { decidingStep, type GrpcRank, type Ranked } from '../../compiler/precedence.js';
import { resolveHost } from '../router/hosts.js';
import { authorize, describeDenial, type AuthorizationDecision } from '../policy/authorization.js';
import { RateLimiter, rateLimitKey, UNIDENTIFIED_CALLER } from '../policy/rate-limiter.js';
import { appendForwarded } from '../policy/forwarded-headers.js';
import type { Headers } from '../policy/headers.js';
import { withoutHopByHop } from '../policy/hop-by-hop.js';
import { normalizePath } from '../policy/path-normalizer.js';
import { decideFilter } from '../policy/request-filters.js';
import type { RequestLine } from '../policy/request-line.js';
import { SOURCE_HEADER } from '../proxy/caller-identity.js';
import { describeFilter, shortService } from '../../compiler/diff/describe.js';

/** SimulatedRequest is a request from a RouteTest case or the `weft explain` command line. */
export interface SimulatedRequest {
  /** Upper-case method. */
  method: string;
  /** Absolute (`http://reviews:9080/x?y`) or origin-form (`/x`, with a `host` header). */
  url: string;
  /** Header names in any case. */
  headers: Record<string, string>;
  /** Calling Service id `namespace/name`; null: a client without a mesh identity. */
  from: string | null;
}

/** The fixed client address rate limits keyed by `clientAddress` see (RFC 5737 TEST-NET-1). */
export const SIMULATED_CLIENT_ADDRESS = '192.0.2.10';

/** RateLimitReport says which limits apply to the request and when identical requests are refused. */
export interface RateLimitReport {
  /** Limits whose key the request has (the others do not apply to it). */
  applying: { policy: string; key: string; keyValue: string; requests: number; perMs: number; burst: number }[];
  /** Limits that do not apply, and why (for example: the header is absent). */
  notApplying: { policy: string; key: string; why: string }[];
  /**
   * The number of identical requests at one instant that the proxy's token buckets admit before
   * refusing one with 429; null when no limit applies.
   */
  admittedAtOnce: number | null;
  /** The policy that refuses request number admittedAtOnce + 1. */
  refusedBy: string | null;
}

/** FilterStep is one filter that ran, with what it did. */
export interface FilterStep {
  filter: string;
  effect: string;
}

/** BackendRequest is the request as the backend receives it. */
export interface BackendRequest {
  method: string;
  authority: string;
  /** Path and query. */
  path: string;
  /** Lower-case names; repeated values comma-joined. */
  headers: Record<string, string>;
}

/** Branch is what happens when the weighted choice picks one backend. */
export interface Branch {
  /** Service id. */
  backend: string;
  port: number;
  /** Share of the rule's traffic, in percent. */
  share: number;
  /** Per-backend filters (run only for this backend). */
  steps: FilterStep[];
  request: BackendRequest;
  authorization: AuthorizationDecision;
  rateLimits: RateLimitReport;
  /** null: delivered to the backend's app; else the status the inbound proxy answers (403, 400). */
  status: number | null;
  /** Why `status`, or `delivered`. */
  reason: string;
}

/** Outcome: answered by the caller's proxy (404, redirect, 500/503, fault, 400), or forwarded. */
export type Outcome =
  | { kind: 'local'; status: number; reason: string; location: string | null }
  | { kind: 'forwarded'; branches: Branch[] };

/** RunnerUp is a match that also matched but lost, and the precedence step that decided. */
export interface RunnerUp {
  match: string;
  rule: string;
  decidedBy: string;
}

/** Simulation is the whole story of one request. */
export interface Simulation {
  method: string;
  host: string;
  /** Path and query as sent. */
  target: string;
  caller: CallerIdentity | null;
  explanation: RouteExplanation | null;
  /** Matches after the winner that would also have matched (empty when none did). */
  runnersUp: RunnerUp[];
  rule: Rule | null;
  steps: FilterStep[];
  /** Limits of the matched rule's HTTPRoute, applied by the caller's proxy. */
  outboundRateLimits: RateLimitReport | null;
  /** Partial faults: they fire for a share of requests, which a single simulation does not draw. */
  partialFaults: string[];
  outcome: Outcome;
}

/**
 * precedenceStep names the Gateway API precedence step that puts `a` before `b` (both matched
 * the request). It explains the order compiler/precedence.ts decided, with the compiler's own
 * steps (SPECIFICITY, or GRPC_SPECIFICITY for two GRPCRoute matches); past those, the tie-breakers the bundle carries no data for (creation
 * time) are named as the compiler applies them.
 */
export function precedenceStep(a: CompiledMatch, b: CompiledMatch): string {
  const ranked = (m: CompiledMatch): Ranked => ({ match: m.source, grpc: m.rule.route.kind === 'GRPCRoute' ? grpcKeys(m.source.path) : null });
  const rankedA = ranked(a);
  const rankedB = ranked(b);
  const d = decidingStep(rankedA, rankedB);
  if (d !== null && d.order < 0) return d.step.explain(rankedA, rankedB);
  const ra = `${a.rule.route.namespace}/${a.rule.route.name}`;
  const rb = `${b.rule.route.namespace}/${b.rule.route.name}`;
  if (ra !== rb) return `route order: ${ra} before ${rb} (older creationTimestamp, then namespace/name)`;
  if (a.rule.id !== b.rule.id) return `rule order within ${ra}: ${a.rule.id} is written first`;
  return `match order within rule ${a.rule.id}`;
}

/** ANY_SEGMENT is how compiler/grpcroute.ts writes "any service" or "any method" in a path regex. */
const ANY_SEGMENT = '[^/]+';

/** grpcKeys recovers the GRPCRoute precedence keys (characters in service and method) from a lowered path match. */
function grpcKeys(p: CompiledMatch['source']['path']): GrpcRank {
  const len = (x: string | undefined): number => (x === undefined || x === ANY_SEGMENT ? 0 : x.length);
  if (p.type === 'Exact') {
    const i = p.value.lastIndexOf('/');
    return { service: i - 1, method: p.value.length - i - 1 };
  }
  if (p.type === 'PathPrefix') return { service: p.value.length - 1, method: 0 };
  const groups = /^\/\((.*)\)\/\((.*)\)$/.exec(p.value);
  if (groups) return { service: len(groups[1]), method: len(groups[2]) };
  return { service: 0, method: len(p.value.slice(ANY_SEGMENT.length + 2)) };
}

function lowerHeaders(h: Record<string, string>): Headers {
  const out: Headers = {};
  for (const [k, v] of Object.entries(h)) {
    const prior = out[k.toLowerCase()];
    out[k.toLowerCase()] = prior === undefined ? v : [...(typeof prior === 'string' ? [prior] : prior), v];
  }
  return out;
}

/**
 * outboundHeaders are the request headers as the caller's proxy has them when it routes: its
 * earlier steps (runtime/proxy/steps/index.ts) took Host out as the authority, removed
 * hop-by-hop headers, added X-Forwarded-For / -Proto / -Host (the same functions), and stamped
 * `weft-source` with the calling Service (or, with no caller, no identity at all). Routing and
 * filters see these, so a RouteTest predicts the proxy.
 */
function outboundHeaders(h: Headers, authority: string, caller: CallerIdentity | null): Headers {
  const copy: Headers = { ...h };
  delete copy.host;
  const out = withoutHopByHop(copy);
  appendForwarded(out, SIMULATED_CLIENT_ADDRESS, authority);
  if (caller) out[SOURCE_HEADER] = `${caller.service}.${caller.namespace}`;
  else delete out[SOURCE_HEADER];
  return out;
}

function copyLine(req: RequestLine): RequestLine {
  const headers: Headers = {};
  for (const [k, v] of Object.entries(req.headers)) headers[k] = typeof v === 'string' ? v : [...v];
  return { authority: req.authority, path: req.path, query: req.query, headers };
}

/** A random source just below 1: only a 100% fault fires, deterministically. */
const ONLY_CERTAIN = (): number => 0.999999999;

/** LocalAnswer is a filter answering instead of forwarding (redirect, fault abort, unsupported type). */
interface LocalAnswer {
  status: number;
  reason: string;
  location: string | null;
}

/**
 * simulateFilters runs `filters` in order through the proxy's own FILTERS table
 * (runtime/policy/request-filters.ts) on `req`, changed in place, and reports each effect;
 * returns the answer when one answers instead of forwarding. Faults fire only at 100%; partial
 * ones are listed in `partialFaults`.
 */
function simulateFilters(req: RequestLine, filters: readonly Filter[], steps: FilterStep[], partialFaults: string[], where: string): LocalAnswer | null {
  for (const f of filters) {
    const before = `${req.authority}${req.path}`;
    const effect = decideFilter(req, f, ONLY_CERTAIN);
    if (f.type === 'Fault') {
      if (f.fault.abort && f.fault.abort.percent > 0 && f.fault.abort.percent < 100) partialFaults.push(`${f.name}: abort ${f.fault.abort.status} for ${f.fault.abort.percent}% of requests`);
      if (f.fault.delay && f.fault.delay.percent > 0 && f.fault.delay.percent < 100) partialFaults.push(`${f.name}: delay ${f.fault.delay.ms}ms for ${f.fault.delay.percent}% of requests`);
    }
    const step = (text: string): void => void steps.push({ filter: describeFilter(f), effect: text });
    if (effect === null) {
      step('not supported by the proxy: answers 500');
      return { status: 500, reason: `${where}: filter type ${f.type} is not supported`, location: null };
    }
    switch (effect.kind) {
      case 'continue':
        step(f.type === 'URLRewrite' ? `${before} → ${req.authority}${req.path}` : f.type === 'RequestHeaderModifier' ? 'request headers changed' : 'fires only for a share of requests');
        break;
      case 'response-headers':
        step('applies to the response');
        break;
      case 'mirror':
        step('a copy is sent; the response is ignored');
        break;
      case 'redirect':
        step(`answers ${effect.status} Location: ${effect.location}`);
        return { status: effect.status, reason: `redirected by ${where}`, location: effect.location };
      case 'fault':
        step(effect.abortStatus !== null ? `aborts with ${effect.abortStatus}` : `delays ${effect.delayMs}ms`);
        if (effect.abortStatus !== null) return { status: effect.abortStatus, reason: `fault ${effect.name} aborts every request`, location: null };
        break;
    }
  }
  return null;
}

/** flatHeaders shows headers one value per name, repeated values joined as the router joins them (fieldSeparator), names sorted. */
function flatHeaders(h: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(h).sort()) {
    const v = h[k];
    if (v !== undefined) out[k] = typeof v === 'string' ? v : v.join(fieldSeparator(k));
  }
  return out;
}

/** rateLimitReport evaluates limits with the proxy's RateLimiter on a frozen clock. */
export function rateLimitReport(limits: Rule['rateLimits'], caller: CallerIdentity | null, headers: Headers, authority?: string): RateLimitReport {
  const req = { caller, clientAddress: SIMULATED_CLIENT_ADDRESS, headers, ...(authority !== undefined ? { authority } : {}) };
  const report: RateLimitReport = { applying: [], notApplying: [], admittedAtOnce: null, refusedBy: null };
  for (const l of limits) {
    const keyValue = rateLimitKey(l.key, req);
    if (keyValue === null) {
      const why = l.key.startsWith('header:') ? `the request has no ${l.key.slice('header:'.length)} header` : `the request has no ${l.key}`;
      report.notApplying.push({ policy: l.policy, key: l.key, why });
      continue;
    }
    const shown = keyValue === UNIDENTIFIED_CALLER ? 'unidentified callers (one shared bucket)' : keyValue;
    report.applying.push({ policy: l.policy, key: l.key, keyValue: shown, requests: l.requests, perMs: l.perMs, burst: l.burst });
  }
  if (report.applying.length === 0) return report;
  const limiter = new RateLimiter(limits, () => 0);
  const ceiling = Math.max(...report.applying.map((l) => l.burst)) + 1;
  for (let n = 0; n <= ceiling; n++) {
    const d = limiter.check(req);
    if (!d.allowed) {
      report.admittedAtOnce = n;
      report.refusedBy = d.policy;
      break;
    }
  }
  return report;
}

function findService(router: Router, id: string): ServiceEntry | null {
  return router.services.get(id)?.entry ?? null;
}

/**
 * simulate runs one request through the router and policies of `router`. Never throws for a
 * well-formed bundle: every failure is an Outcome.
 */
export function simulate(router: Router, r: SimulatedRequest): Simulation {
  const method = r.method.toUpperCase();
  const { path: writtenPath, query, authority: urlAuthority } = splitTarget(r.url);
  const headers = lowerHeaders(r.headers);
  const hostHeader = headers.host;
  const host = urlAuthority ?? (typeof hostHeader === 'string' ? hostHeader : (hostHeader?.[0] ?? ''));
  const target = query ? `${writtenPath}?${query}` : writtenPath;
  let caller: CallerIdentity | null = null;
  if (r.from !== null) {
    const [ns, name] = r.from.split('/') as [string, string];
    caller = identityOf(name, ns, 'header');
  }
  const base: Omit<Simulation, 'outcome'> = {
    method,
    host,
    target,
    caller,
    explanation: null,
    runnersUp: [],
    rule: null,
    steps: [],
    outboundRateLimits: null,
    partialFaults: [],
  };
  const local = (status: number, reason: string, location: string | null = null): Simulation => ({ ...base, outcome: { kind: 'local', status, reason, location } });
  if (host === '') return local(400, 'the request names no host (give an absolute URL or a Host header)');
  // The caller's proxy normalises the path before routing (runtime/proxy/steps/index.ts), so a
  // `..` segment or an encoded letter cannot steer a request past a route's limits and filters.
  const normalised = normalizePath(writtenPath, router.mesh.proxy?.pathNormalization);
  if (!normalised.ok) return local(400, `the path cannot be normalised safely: ${normalised.detail}`);
  const rawPath = normalised.path;
  const sent = outboundHeaders(headers, host, caller);

  // The router sees the request as the outbound listener receives it.
  const routeReq = { method, path: rawPath, query, headers: flatHeaders(sent), authority: host };
  const callerId = caller ? `${caller.namespace}/${caller.service}` : null;
  const explanation = explainRoute(router, host, caller?.namespace ?? null, routeReq, callerId);
  base.explanation = explanation;
  const decision = explanation.decision;
  if (decision.kind === 'not-found') return local(404, decision.message);
  const rule = decision.rule;
  base.rule = rule;

  if (decision.match && decision.table) {
    const target = resolveHost(hostsFor(router, callerId), host, caller?.namespace ?? null);
    const view = new RequestView(routeReq, target?.port ?? null);
    for (const m of decision.table.matches.slice(decision.match.index + 1)) {
      if (mismatch(m, view) === null) base.runnersUp.push({ match: m.source.id, rule: m.rule.id, decidedBy: precedenceStep(decision.match, m) });
    }
  }

  // The caller's proxy applies the route's rate limits right after routing, before filters.
  base.outboundRateLimits = rateLimitReport(rule.rateLimits, caller, sent, host);

  // Rule filters, in the order written (the proxy's order).
  const req: RequestLine = { authority: host, path: rawPath, query, headers: sent };
  const answered = simulateFilters(req, rule.filters, base.steps, base.partialFaults, `rule ${rule.id}`);
  if (answered) return local(answered.status, answered.reason, answered.location);
  if (rule.direct) return local(rule.direct.status, `rule ${rule.id}: ${rule.direct.reason}`);

  const shares = backendShares(rule);
  const branches: Branch[] = [];
  for (const b of rule.backends) {
    if (b.weight <= 0) continue;
    const breq = copyLine(req);
    const steps: FilterStep[] = [];
    const backendAnswer = simulateFilters(breq, b.filters, steps, base.partialFaults, `backend ${b.service} of rule ${rule.id}`);
    const receiver = findService(router, b.service);
    // The inbound proxy normalises the path first: authorization, rate limits and the app all see that form.
    const normal = normalizePath(breq.path, router.mesh.proxy?.pathNormalization);
    const received = normal.ok ? normal.path : breq.path;
    const request: BackendRequest = { method, authority: breq.authority, path: breq.query ? `${received}?${breq.query}` : received, headers: flatHeaders(breq.headers) };
    const authHeaders = flatHeaders(breq.headers);
    const authorization: AuthorizationDecision = receiver
      ? normal.ok
        ? authorize(receiver.authorization, router.mesh.authorization.default, { caller, method, path: normal.path, headers: authHeaders, authority: breq.authority })
        : { allowed: false, reason: 'mesh-default', default: 'deny' }
      : { allowed: router.mesh.authorization.default === 'allow', reason: 'mesh-default', default: router.mesh.authorization.default };
    const rateLimits = rateLimitReport(receiver?.rateLimits ?? [], caller, breq.headers, breq.authority);
    let status: number | null = null;
    let reason = 'delivered';
    if (backendAnswer) {
      // The caller's proxy answers for this backend; nothing reaches the receiving Service.
      status = backendAnswer.status;
      reason = backendAnswer.location === null ? backendAnswer.reason : `${backendAnswer.reason}: Location ${backendAnswer.location}`;
    } else if (!normal.ok) {
      status = 400;
      reason = `the inbound proxy refuses the path: ${normal.detail}`;
    } else if (!authorization.allowed) {
      status = 403;
      reason = describeDenial(authorization);
    } else if (receiver && receiver.endpoints.length === 0) {
      // No endpoints in git means the Service's instances register themselves (WFT511 says so):
      // a mesh with a controller delivers to them. Only a proxy run on --bundle alone answers 503,
      // and RouteTests describe the mesh, not that set-up.
      reason = `delivered to its registered instances (${shortService(b.service)} lists no endpoints in git)`;
    }
    branches.push({ backend: b.service, port: b.port, share: shares.get(b.service) ?? 0, steps, request, authorization, rateLimits, status, reason });
  }
  if (branches.length === 0) return local(500, `rule ${rule.id}: no backend has a positive weight`);
  return { ...base, outcome: { kind: 'forwarded', branches } };
}
