/**
 * runRouteTests runs every RouteTest case against a compiled bundle with the proxy's own router
 * and policies (through simulate), and says precisely what differed for each failing case.
 *
 * What each expectation means (docs/pr-validation.md repeats this for users):
 * - `backend: X`: every request of the case goes to X (X holds 100% of the rule's weight) and
 *   X's inbound proxy delivers it (no 403/503), unless `status` says otherwise.
 * - `backends: {X: 90, Y: 10}`: the weight shares in percent, exact from the weights, ±0.5.
 * - `status`: the status the mesh answers with: 404 (no route), 403 (authorization), 500/503
 *   (a rule without backends, all weights zero, no endpoints), a Fault's abort status (only
 *   faults at 100% fire), a redirect's status, or 200 meaning "delivered to the app".
 *   429 means "this request is subject to a rate limit": burst+1 identical requests at one
 *   instant get 429 from the proxy's own token buckets. A single request is never limited.
 * - `redirect: {status, location}`: the rule redirects with that Location (and status, if given).
 * - `path`: path and query the backend receives after rewrites.
 * - `headers`: request headers the backend receives after filters (names case-insensitive).
 * Expectations about the backend's request (`path`, `headers`, `backend`) apply to the named
 * `backend` when there is one, else to every backend the rule can choose.
 */
import type { Bundle } from '../../schemas/bundle.js';
import type { Resource, RouteTest, RouteTestCase } from '../../compiler/resources.js';
import { spanAt } from '../../compiler/diagnostics.js';
import { callerId } from '../../compiler/resolve.js';
import { shortService, formatPercent } from '../../compiler/diff/describe.js';
import { buildRouter, type Router } from '../router/index.js';
import { simulate, type Branch, type Simulation } from './simulate.js';

/** SHARE_TOLERANCE is how far (in percentage points) an expected weight share may be off. */
export const SHARE_TOLERANCE = 0.5;

/** CaseResult is one case: where it is written, and what differed (empty when it passed). */
export interface CaseResult {
  /** RouteTest `namespace/name`. */
  test: string;
  name: string;
  /** 0-based index in spec.cases. */
  index: number;
  file: string;
  line: number;
  column: number;
  passed: boolean;
  failures: string[];
}

/** TestRun is every case in file order, with counts. */
export interface TestRun {
  results: CaseResult[];
  passed: number;
  failed: number;
}

function describeShares(branches: readonly Branch[]): string {
  return branches.map((b) => `${shortService(b.backend)} ${formatPercent(b.share)}`).join(', ');
}

/** observedStatus is the single status every considered branch gives, or a description of a mix. */
function observedStatus(sim: Simulation, branches: readonly Branch[]): { status: number | null; text: string } {
  if (sim.outcome.kind === 'local') return { status: sim.outcome.status, text: `${sim.outcome.status} (${sim.outcome.reason})` };
  const statuses = new Set(branches.map((b) => b.status ?? 200));
  if (statuses.size === 1) {
    const s = [...statuses][0]!;
    const b = branches[0]!;
    return { status: s, text: s === 200 ? `delivered to ${shortService(b.backend)}` : `${s} (${b.reason})` };
  }
  return { status: null, text: `it depends on the backend: ${branches.map((b) => `${shortService(b.backend)} ${b.status ?? 'delivered'}`).join(', ')}` };
}

/** checkCase compares one simulated request with its expectations; returns what differed. */
export function checkCase(sim: Simulation, c: RouteTestCase, namespace: string): string[] {
  const e = c.expect;
  const failures: string[] = [];
  const outcome = sim.outcome;
  const forwarded = outcome.kind === 'forwarded' ? outcome.branches : [];
  const named = e.backend !== undefined ? callerId(e.backend, namespace) : null;
  const considered = named ? forwarded.filter((b) => b.backend === named) : forwarded;
  const local = outcome.kind === 'local' ? `${outcome.status} (${outcome.reason})` : null;

  if (e.backend !== undefined) {
    if (local) failures.push(`expected backend ${e.backend}, got ${local}`);
    else if (!(forwarded.length === 1 && forwarded[0]!.backend === named && Math.abs(forwarded[0]!.share - 100) <= SHARE_TOLERANCE)) {
      failures.push(`expected backend ${e.backend}, got ${describeShares(forwarded)}`);
    }
  }
  if (e.backends !== undefined) {
    if (local) failures.push(`expected backends ${Object.entries(e.backends).map(([k, v]) => `${k} ${v}%`).join(', ')}, got ${local}`);
    else {
      const got = new Map(forwarded.map((b) => [b.backend, b.share]));
      const want = new Map(Object.entries(e.backends).map(([k, v]) => [callerId(k, namespace), v]));
      const wrong = [...new Set([...got.keys(), ...want.keys()])].some((k) => Math.abs((got.get(k) ?? 0) - (want.get(k) ?? 0)) > SHARE_TOLERANCE);
      if (wrong) {
        failures.push(`expected backends ${[...want].map(([k, v]) => `${shortService(k)} ${formatPercent(v)}`).join(', ')}, got ${describeShares(forwarded)}`);
      }
    }
  }
  if (e.status !== undefined) {
    if (e.status === 429) {
      const limited = outcome.kind === 'forwarded' && (sim.outboundRateLimits?.admittedAtOnce != null || considered.some((b) => b.rateLimits.admittedAtOnce !== null));
      if (!limited) failures.push(`expected status 429, but ${local ? `the request gets ${local}` : 'no rate limit applies to this request'}`);
    } else {
      const got = observedStatus(sim, considered);
      if (got.status !== e.status) failures.push(`expected status ${e.status}, got ${got.text}`);
    }
  }
  if (e.redirect !== undefined) {
    if (outcome.kind !== 'local' || outcome.location === null) {
      failures.push(`expected a redirect to ${e.redirect.location}, got ${local ?? `forwarded to ${describeShares(forwarded)}`}`);
    } else {
      if (outcome.location !== e.redirect.location) failures.push(`expected Location ${e.redirect.location}, got ${outcome.location}`);
      if (e.redirect.status !== undefined && e.redirect.status !== outcome.status) failures.push(`expected redirect status ${e.redirect.status}, got ${outcome.status}`);
    }
  }
  const wantsDelivery = e.path !== undefined || e.headers !== undefined || e.backend !== undefined;
  if (wantsDelivery && !local && e.status === undefined) {
    for (const b of considered) if (b.status !== null) failures.push(`${shortService(b.backend)} does not receive the request: ${b.status} (${b.reason})`);
  }
  if (e.path !== undefined) {
    if (local) failures.push(`expected the backend to receive path ${e.path}, got ${local}`);
    for (const b of considered) {
      if (b.request.path !== e.path) failures.push(`expected path ${e.path}${forwarded.length > 1 ? ` at ${shortService(b.backend)}` : ''}, got ${b.request.path}`);
    }
  }
  if (e.headers !== undefined) {
    if (local) failures.push(`expected the backend to receive headers, got ${local}`);
    for (const b of considered) {
      for (const [name, value] of Object.entries(e.headers)) {
        const got = b.request.headers[name.toLowerCase()];
        if (got !== value) {
          failures.push(`expected header ${name}: ${value}${forwarded.length > 1 ? ` at ${shortService(b.backend)}` : ''}, got ${got === undefined ? 'no such header' : `${name}: ${got}`}`);
        }
      }
    }
  }
  return failures;
}

/** requestOf turns a case into the simulated request (method default GET). */
export function requestOf(c: RouteTestCase, namespace: string): Parameters<typeof simulate>[1] {
  return {
    method: (c.request.method ?? 'GET').toUpperCase(),
    url: c.request.url,
    headers: c.request.headers ?? {},
    from: c.from === undefined ? null : callerId(c.from, namespace),
  };
}

/** runRouteTests runs every case of every RouteTest in `resources` against `bundle`. */
export function runRouteTests(bundle: Bundle, resources: readonly Resource[], router: Router = buildRouter(bundle.spec)): TestRun {
  const tests = resources.filter((r): r is RouteTest => r.kind === 'RouteTest');
  const results: CaseResult[] = [];
  for (const t of tests) {
    const ns = t.metadata.namespace;
    t.spec.cases.forEach((c, index) => {
      const span = spanAt(t.origin, `/spec/cases/${index}`);
      const sim = simulate(router, requestOf(c, ns));
      const failures = checkCase(sim, c, ns);
      results.push({ test: `${ns}/${t.metadata.name}`, name: c.name, index, file: t.origin.file, line: span.line, column: span.column, passed: failures.length === 0, failures });
    });
  }
  results.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line || a.column - b.column));
  const passed = results.filter((r) => r.passed).length;
  return { results, passed, failed: results.length - passed };
}
