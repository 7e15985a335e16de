/**
 * diffBundles compares two compiles of a policy repository for what changes for traffic, not
 * for text: a file moved, a rule reordered inside a route without effect, or YAML rewritten in
 * another style produces no change. Matches are identified by their route and their content
 * (never by index), so inserting a rule above another does not make every later rule "changed".
 *
 * A pure function of its inputs: `weft diff` compiles, this compares, compiler/diff/format-*.ts
 * render.
 */
import type {
  AuthorizationPolicyEntry,
  BundleSpec,
  RouteMatch,
  RouteTable,
  Rule,
  ServiceEntry,
  SourceMap,
} from '../../schemas/bundle.js';
import type { CompileResult, Diagnostic } from '../types.js';
import { touchedSlices } from '../slice.js';
import {
  describeAuthorization,
  describeBackends,
  describeFilter,
  describeMatch,
  describeRateLimit,
  describeRetry,
  describeTimeouts,
  formatMs,
  shortService,
} from './describe.js';

/** DiffSide says what one side of the comparison was and whether it compiled. */
export interface DiffSide {
  /** The revision asked for, or null for the working tree. */
  ref: string | null;
  /** The commit it resolved to, when read from git. */
  commit: string | null;
  /** Bundle digest; null when this side did not compile. */
  digest: string | null;
  errors: number;
  warnings: number;
  /** The directory does not exist at this revision: compared as a mesh with no Services. */
  missing: boolean;
}

/** FieldChange is one setting before → after; null means "absent" on that side. */
export interface FieldChange {
  field: string;
  before: string | null;
  after: string | null;
}

/** RuleView is everything a reviewer needs about where a match sends traffic. */
export interface RuleView {
  /** Rule id `namespace/route#rule`. */
  rule: string;
  backends: string;
  filters: string[];
  timeouts: string;
  retry: string;
  rateLimits: string[];
  /** `file:line` of the match (or its rule) in this side's sources, when known. */
  source: string | null;
}

/** MatchChange is one match of one route table added, removed or changed. */
export interface MatchChange {
  change: 'added' | 'removed' | 'changed';
  /** `namespace/name` of the HTTPRoute; `(no routes)` for a Service's implicit default. */
  route: string;
  /** describeMatch() of the match: its identity together with `route`. */
  match: string;
  before: RuleView | null;
  after: RuleView | null;
  /** For `changed`: the fields that differ (backends, filters, timeouts, retry, rateLimits). */
  fields: FieldChange[];
}

/** TableChange is the routing for one audience of a Service. */
export interface TableChange {
  /** `all callers` (producer routes) or `callers in <namespace>` (consumer routes). */
  audience: string;
  matches: MatchChange[];
  /** Matches present on both sides whose relative precedence changed (route + match). */
  reordered: string[];
}

/** PolicyChange is one authorization policy or rate limit added, removed or changed. */
export interface PolicyChange {
  change: 'added' | 'removed' | 'changed';
  /** `ALLOW namespace/name`, `DENY namespace/name`, or a rate limit's `policy key`. */
  policy: string;
  before: string | null;
  after: string | null;
}

/** ServiceChange lists every traffic-relevant difference of one Service present on both sides. */
export interface ServiceChange {
  id: string;
  ports: FieldChange[];
  endpoints: { added: string[]; removed: string[] };
  backendPolicy: FieldChange[];
  authorization: PolicyChange[];
  rateLimits: PolicyChange[];
  routing: TableChange[];
}

/** ServiceSummary is an added or removed Service, with what its routing looks like. */
export interface ServiceSummary {
  id: string;
  endpoints: number;
  /** Each match as `route match: backends`. */
  routes: string[];
}

/** TrafficDiff is the comparison of two bundles; every list is sorted, so output is stable. */
export interface TrafficDiff {
  mesh: FieldChange[];
  servicesAdded: ServiceSummary[];
  servicesRemoved: ServiceSummary[];
  servicesChanged: ServiceChange[];
}

/**
 * BundleDiff is the whole report. `traffic` is null when either side has no bundle (it failed to
 * compile): there is nothing to compare, and the diagnostics say why.
 */
export interface BundleDiff {
  base: DiffSide;
  head: DiffSide;
  /** True when both sides compiled to the same digest: nothing changes for traffic. */
  sameDigest: boolean;
  traffic: TrafficDiff | null;
  /** Findings in head and not in base, compared by code + resource + message (not position). */
  newDiagnostics: Diagnostic[];
  /** How many base findings are gone in head. */
  resolvedDiagnostics: number;
  /**
   * Services whose slice (compiler/slice.ts) differs between base and head, sorted: the proxies
   * this change reloads. Null when either side has no bundle.
   */
  slicesTouched?: string[] | null;
}

/** DiffInput is one side: the compile result and the revision that was asked for. */
export interface DiffInput {
  ref: string | null;
  result: Pick<CompileResult, 'bundle' | 'diagnostics'>;
  /** The directory does not exist at this revision (a PR that adds it): an empty mesh. */
  missing?: boolean;
}

// ---- helpers ------------------------------------------------------------------------------

/** flatten turns nested settings into `a.b.c` → rendered value, for field-by-field comparison. */
function flatten(value: unknown, prefix: string, out: Map<string, string>): Map<string, string> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0 && prefix) out.set(prefix, '{}');
    for (const [k, v] of entries) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (prefix) {
    out.set(prefix, renderScalar(prefix, value));
  }
  return out;
}

function renderScalar(field: string, v: unknown): string {
  if (v === null || v === undefined) return 'none';
  if (typeof v === 'number' && /Ms$/.test(field)) return formatMs(v);
  if (Array.isArray(v)) return v.map((x) => (typeof x === 'object' ? JSON.stringify(x) : String(x))).join(',');
  return String(v);
}

function compareFields(before: unknown, after: unknown): FieldChange[] {
  const a = flatten(before, '', new Map());
  const b = flatten(after, '', new Map());
  const keys = [...new Set([...a.keys(), ...b.keys()])].sort();
  const out: FieldChange[] = [];
  for (const k of keys) {
    const x = a.get(k) ?? null;
    const y = b.get(k) ?? null;
    if (x !== y) out.push({ field: k.replace(/Ms(?=$|\.)/g, ''), before: x, after: y });
  }
  return out;
}

function byString<T>(key: (t: T) => string): (a: T, b: T) => number {
  return (a, b) => {
    const x = key(a);
    const y = key(b);
    return x < y ? -1 : x > y ? 1 : 0;
  };
}

function sourceOf(sources: SourceMap, ...ids: string[]): string | null {
  for (const id of ids) {
    const s = sources[id];
    if (s) return `${s.file}:${s.line}`;
  }
  return null;
}

/** One match of a table, keyed by route + match content. */
interface KeyedMatch {
  key: string;
  route: string;
  match: string;
  view: RuleView;
}

function ruleView(rule: Rule, m: RouteMatch | null, sources: SourceMap): RuleView {
  const limits = rule.rateLimits.map(describeRateLimit);
  return {
    rule: rule.id,
    backends: describeBackends(rule),
    filters: [
      ...rule.filters.map(describeFilter),
      ...rule.backends.flatMap((b) => b.filters.map((f) => `${shortService(b.service)}: ${describeFilter(f)}`)),
    ],
    timeouts: describeTimeouts(rule.timeouts),
    retry: describeRetry(rule.retry),
    rateLimits: limits,
    source: m ? sourceOf(sources, m.id, rule.id) : sourceOf(sources, rule.id),
  };
}

/** The synthetic match of a Service without routes: everything goes to its own endpoints. */
const NO_ROUTES = '(no routes)';

function keyedMatches(table: RouteTable | null, svc: ServiceEntry, sources: SourceMap): KeyedMatch[] {
  if (!table) {
    return [
      {
        key: `${NO_ROUTES}\u0000prefix /`,
        route: NO_ROUTES,
        match: 'prefix /',
        view: { rule: NO_ROUTES, backends: `${shortService(svc.id)} 100%`, filters: [], timeouts: '', retry: '', rateLimits: [], source: sourceOf(sources, `Service/${svc.namespace}/${svc.name}`) },
      },
    ];
  }
  const out: KeyedMatch[] = [];
  const seen = new Set<string>();
  for (const m of table.matches) {
    const rule = table.rules[m.rule];
    if (!rule) continue;
    // A GRPCRoute is named as such: an HTTPRoute may have the same namespace/name.
    const route = `${rule.route.kind === 'GRPCRoute' ? 'GRPCRoute ' : ''}${rule.route.namespace}/${rule.route.name}`;
    const match = describeMatch(m);
    const key = `${route}\u0000${match}`;
    // An identical second match of the same route can never be chosen (the compiler warns,
    // WFT501); the first one is the one that carries traffic.
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ key, route, match, view: ruleView(rule, m, sources) });
  }
  return out;
}

function compareViews(a: RuleView, b: RuleView): FieldChange[] {
  const out: FieldChange[] = [];
  const push = (field: string, x: string, y: string) => {
    if (x !== y) out.push({ field, before: x, after: y });
  };
  push('backends', a.backends, b.backends);
  push('filters', a.filters.join('; ') || 'none', b.filters.join('; ') || 'none');
  push('timeouts', a.timeouts, b.timeouts);
  push('retry', a.retry, b.retry);
  push('rateLimits', a.rateLimits.join('; ') || 'none', b.rateLimits.join('; ') || 'none');
  return out;
}

/** Keys common to both lists whose relative order differs (a longest-common-subsequence check). */
function reorderedKeys(before: string[], after: string[]): string[] {
  const inAfter = new Set(after);
  const inBefore = new Set(before);
  const a = before.filter((k) => inAfter.has(k));
  const b = after.filter((k) => inBefore.has(k));
  const n = a.length;
  if (n === 0) return [];
  // LCS over at most a few hundred matches per table: quadratic is fine off the request path.
  const dp: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(n + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = n - 1; j >= 0; j--) {
      dp[i]![j] = a[i] === b[j] ? dp[i + 1]![j + 1]! + 1 : Math.max(dp[i + 1]![j]!, dp[i]![j + 1]!);
    }
  }
  const kept = new Set<string>();
  for (let i = 0, j = 0; i < n && j < n; ) {
    if (a[i] === b[j]) {
      kept.add(a[i]!);
      i++;
      j++;
    } else if (dp[i + 1]![j]! >= dp[i]![j + 1]!) i++;
    else j++;
  }
  return b.filter((k) => !kept.has(k));
}

function diffTable(audience: string, before: KeyedMatch[], after: KeyedMatch[]): TableChange | null {
  const a = new Map(before.map((m) => [m.key, m]));
  const b = new Map(after.map((m) => [m.key, m]));
  const matches: MatchChange[] = [];
  for (const m of before) {
    const other = b.get(m.key);
    if (!other) matches.push({ change: 'removed', route: m.route, match: m.match, before: m.view, after: null, fields: [] });
    else {
      const fields = compareViews(m.view, other.view);
      if (fields.length) matches.push({ change: 'changed', route: m.route, match: m.match, before: m.view, after: other.view, fields });
    }
  }
  for (const m of after) {
    if (!a.has(m.key)) matches.push({ change: 'added', route: m.route, match: m.match, before: null, after: m.view, fields: [] });
  }
  matches.sort(byString((m) => `${m.route}\u0000${m.match}\u0000${m.change}`));
  const reordered = reorderedKeys(
    before.map((m) => m.key),
    after.map((m) => m.key),
  ).map((k) => k.replace('\u0000', ' '));
  if (matches.length === 0 && reordered.length === 0) return null;
  return { audience, matches, reordered };
}

function diffRouting(before: ServiceEntry, after: ServiceEntry, bs: SourceMap, as: SourceMap): TableChange[] {
  const out: TableChange[] = [];
  const producer = diffTable('all callers', keyedMatches(before.routing.producer, before, bs), keyedMatches(after.routing.producer, after, as));
  if (producer) out.push(producer);
  const namespaces = [...new Set([...Object.keys(before.routing.consumers), ...Object.keys(after.routing.consumers)])].sort();
  for (const ns of namespaces) {
    const x = before.routing.consumers[ns];
    const y = after.routing.consumers[ns];
    // A namespace without consumer routes falls back to the producer table: compare with that.
    const bx = keyedMatches(x ?? before.routing.producer, before, bs);
    const ay = keyedMatches(y ?? after.routing.producer, after, as);
    const t = diffTable(`callers in ${ns}`, bx, ay);
    if (t) out.push(t);
  }
  return out;
}

function authEntries(s: ServiceEntry): Map<string, string> {
  const m = new Map<string, string>();
  const add = (action: string, p: AuthorizationPolicyEntry) => m.set(`${action} ${p.policy}`, describeAuthorization(p));
  for (const p of s.authorization.deny) add('DENY', p);
  for (const p of s.authorization.allow) add('ALLOW', p);
  return m;
}

function rateLimitEntries(s: ServiceEntry): Map<string, string> {
  const m = new Map<string, string>();
  for (const l of s.rateLimits) {
    let k = `${l.policy} ${l.key}`;
    for (let i = 2; m.has(k); i++) k = `${l.policy} ${l.key} #${i}`;
    m.set(k, describeRateLimit(l));
  }
  return m;
}

function comparePolicies(a: Map<string, string>, b: Map<string, string>): PolicyChange[] {
  const out: PolicyChange[] = [];
  for (const k of [...new Set([...a.keys(), ...b.keys()])].sort()) {
    const x = a.get(k) ?? null;
    const y = b.get(k) ?? null;
    if (x === y) continue;
    out.push({ change: x === null ? 'added' : y === null ? 'removed' : 'changed', policy: k, before: x, after: y });
  }
  return out;
}

function endpointKey(e: ServiceEntry['endpoints'][number]): string {
  const labels = Object.keys(e.labels)
    .sort()
    .map((k) => `${k}=${e.labels[k]}`)
    .join(',');
  return labels ? `${e.address}:${e.port} {${labels}}` : `${e.address}:${e.port}`;
}

function diffService(a: ServiceEntry, b: ServiceEntry, as: SourceMap, bs: SourceMap): ServiceChange | null {
  const ea = new Set(a.endpoints.map(endpointKey));
  const eb = new Set(b.endpoints.map(endpointKey));
  const change: ServiceChange = {
    id: a.id,
    ports: compareFields(Object.fromEntries(a.ports.map((p) => [p.name, p])), Object.fromEntries(b.ports.map((p) => [p.name, p]))),
    endpoints: { added: [...eb].filter((e) => !ea.has(e)).sort(), removed: [...ea].filter((e) => !eb.has(e)).sort() },
    backendPolicy: compareFields(a.backendPolicy, b.backendPolicy),
    authorization: comparePolicies(authEntries(a), authEntries(b)),
    rateLimits: comparePolicies(rateLimitEntries(a), rateLimitEntries(b)),
    routing: diffRouting(a, b, as, bs),
  };
  const empty =
    change.ports.length === 0 &&
    change.endpoints.added.length === 0 &&
    change.endpoints.removed.length === 0 &&
    change.backendPolicy.length === 0 &&
    change.authorization.length === 0 &&
    change.rateLimits.length === 0 &&
    change.routing.length === 0;
  return empty ? null : change;
}

function summarise(s: ServiceEntry, sources: SourceMap): ServiceSummary {
  return {
    id: s.id,
    endpoints: s.endpoints.length,
    routes: keyedMatches(s.routing.producer, s, sources).map((m) => `${m.route === NO_ROUTES ? NO_ROUTES : m.route} ${m.match}: ${m.view.backends}`),
  };
}

/** diffSpecs compares two compiled bundles' content. Empty lists everywhere ⇔ no traffic change. */
export function diffSpecs(base: BundleSpec, head: BundleSpec, baseSources: SourceMap = {}, headSources: SourceMap = {}): TrafficDiff {
  const a = new Map(base.services.map((s) => [s.id, s]));
  const b = new Map(head.services.map((s) => [s.id, s]));
  const servicesAdded = head.services.filter((s) => !a.has(s.id)).map((s) => summarise(s, headSources));
  const servicesRemoved = base.services.filter((s) => !b.has(s.id)).map((s) => summarise(s, baseSources));
  const servicesChanged: ServiceChange[] = [];
  for (const s of base.services) {
    const other = b.get(s.id);
    if (!other) continue;
    const c = diffService(s, other, baseSources, headSources);
    if (c) servicesChanged.push(c);
  }
  const sortById = byString((s: { id: string }) => s.id);
  return {
    mesh: compareFields(base.mesh, head.mesh),
    servicesAdded: servicesAdded.sort(sortById),
    servicesRemoved: servicesRemoved.sort(sortById),
    servicesChanged: servicesChanged.sort(sortById),
  };
}

/** diagnosticKey identifies a finding independent of where it sits: code, resource, message. */
export function diagnosticKey(d: Diagnostic): string {
  return `${d.code}\u0000${d.resource ?? ''}\u0000${d.message}`;
}

/** newDiagnostics returns head's findings that base did not have (as a multiset), in head order. */
export function newDiagnostics(base: readonly Diagnostic[], head: readonly Diagnostic[]): { added: Diagnostic[]; resolved: number } {
  const counts = new Map<string, number>();
  for (const d of base) counts.set(diagnosticKey(d), (counts.get(diagnosticKey(d)) ?? 0) + 1);
  const added: Diagnostic[] = [];
  for (const d of head) {
    const k = diagnosticKey(d);
    const n = counts.get(k) ?? 0;
    if (n > 0) counts.set(k, n - 1);
    else added.push(d);
  }
  let resolved = 0;
  for (const n of counts.values()) resolved += n;
  return { added, resolved };
}

function side(input: DiffInput): DiffSide {
  const d = input.result.diagnostics;
  return {
    ref: input.ref,
    commit: input.result.bundle?.revision?.commit ?? null,
    digest: input.result.bundle?.digest ?? null,
    errors: d.filter((x) => x.severity === 'error').length,
    warnings: d.filter((x) => x.severity === 'warning').length,
    missing: input.missing === true && input.result.bundle === null,
  };
}

/** diffBundles builds the whole report from two compile results. */
export function diffBundles(base: DiffInput, head: DiffInput): BundleDiff {
  const bb = base.result.bundle;
  const hb = head.result.bundle;
  // A missing directory is not a finding the PR resolves: an empty mesh has none.
  const baseFindings = base.missing && bb === null ? [] : base.result.diagnostics;
  const { added, resolved } = newDiagnostics(baseFindings, head.result.diagnostics);
  return {
    base: side(base),
    head: side(head),
    sameDigest: bb !== null && hb !== null && bb.digest === hb.digest,
    traffic: hb && (bb || base.missing) ? diffSpecs(bb?.spec ?? { mesh: hb.spec.mesh, services: [] }, hb.spec, bb?.sources ?? {}, hb.sources) : null,
    newDiagnostics: added,
    resolvedDiagnostics: resolved,
    slicesTouched: hb && (bb || base.missing) ? touchedSlices(bb?.spec ?? { mesh: hb.spec.mesh, services: [] }, hb.spec) : null,
  };
}

/** ChangeCounts sums up a diff; `total` > 0 ⇔ something changes for traffic or head broke. */
export interface ChangeCounts {
  mesh: number;
  servicesAdded: number;
  servicesRemoved: number;
  servicesChanged: number;
  matchesAdded: number;
  matchesRemoved: number;
  matchesChanged: number;
  policies: number;
  newDiagnostics: number;
  total: number;
}

/**
 * countChanges counts what the diff reports. A head that does not compile (traffic null, head
 * errors) counts as a change: what would reach proxies is "nothing", which differs from base.
 */
export function countChanges(d: BundleDiff): ChangeCounts {
  const c: ChangeCounts = { mesh: 0, servicesAdded: 0, servicesRemoved: 0, servicesChanged: 0, matchesAdded: 0, matchesRemoved: 0, matchesChanged: 0, policies: 0, newDiagnostics: d.newDiagnostics.length, total: 0 };
  const t = d.traffic;
  if (t) {
    c.mesh = t.mesh.length;
    c.servicesAdded = t.servicesAdded.length;
    c.servicesRemoved = t.servicesRemoved.length;
    c.servicesChanged = t.servicesChanged.length;
    for (const s of t.servicesChanged) {
      for (const tab of s.routing) {
        for (const m of tab.matches) {
          if (m.change === 'added') c.matchesAdded++;
          else if (m.change === 'removed') c.matchesRemoved++;
          else c.matchesChanged++;
        }
      }
      c.policies += s.authorization.length + s.rateLimits.length + s.backendPolicy.length;
    }
  }
  const brokenHead = d.head.digest === null && d.base.digest !== null;
  c.total = c.mesh + c.servicesAdded + c.servicesRemoved + c.servicesChanged + c.newDiagnostics + (brokenHead ? 1 : 0);
  return c;
}
