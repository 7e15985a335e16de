/**
 * lower: the resolved tree becomes the bundle's spec (schemas/bundle.ts), with precedence decided
 * (compiler/precedence.ts), durations in ms and every default filled in, plus a source map from
 * ids to file:line:column. Runs only on an error-free tree, but still never throws: a value that
 * could not be lowered falls back to its default.
 *
 * Every object is built with its keys in code-unit order (and maps sorted by key), so the spec is
 * already canonical and emit can serialise it with JSON.stringify; emit checks that this holds and
 * falls back to canonicalJson when it does not, so a slip here costs speed, never correctness.
 *
 * Built-in defaults (docs/policies.md lists them; MeshConfig overrides the mesh-wide ones):
 * request timeout 15s, backendRequest 0 (disabled), no retries unless asked; a route's `retry`
 * without attempts/codes/backoff gets 1 / [503] / 25ms; retry budget 20% + 10/s over 10s;
 * authorization default allow; accessLog off; tracing on.
 */
import type {
  AuthorizationPolicyEntry,
  BackendPolicySettings,
  BundleSpec,
  Endpoint,
  Filter,
  HeaderModifier,
  MeshProxySettings,
  MeshSettings,
  PathModifier,
  RateLimit,
  RetryPolicy,
  Routing,
  RouteIndex,
  RouteMatch,
  RouteTable,
  Rule,
  ServiceEntry,
  SourceLocation,
  SourceMap,
  Timeouts,
  WeightedBackend,
} from '../schemas/bundle.js';
import { normalizeEgress } from '../schemas/egress.js';
import { DEFAULT_PROXY_SETTINGS } from '../schemas/proxy-settings.js';
import { spanAt } from './diagnostics.js';
import { LazyPositions } from './positions.js';
import { markCanonical, rememberSourceIds, rememberSourcesJson } from './emit.js';
import { canonicalJson } from '../schemas/canonical.js';
import { parseDuration } from './duration.js';
import { tablesByParent, prefixMatchOf, type MatchEntry, type TableGroup } from './precedence.js';
import {
  resourceId,
  type AuthorizationPolicy,
  type BackendPolicy,
  type HTTPHeaderModifier,
  type HTTPPathModifier,
  type HTTPRouteFilter,
  type HTTPRouteRule,
  type MeshConfig,
  type RateLimitPolicy,
  type Route,
  type Service,
} from './resources.js';
import type { ResolvedTree } from './resolve.js';
import type { LoweredTree, PassContext } from './types.js';
import type { CompileMemo } from './memo.js';

/** BUILTIN_DEFAULTS are what applies when MeshConfig (or a policy) says nothing. */
export const BUILTIN_DEFAULTS = Object.freeze({
  requestTimeoutMs: 15_000,
  backendRequestTimeoutMs: 0,
  retryAttempts: 1,
  retryCodes: Object.freeze([503]),
  retryBackoffMs: 25,
  retryBudget: Object.freeze({ percent: 20, minRetriesPerSecond: 10, intervalMs: 10_000 }),
  connectionPool: Object.freeze({ maxConnections: 1024, maxPendingRequests: 1024 }),
  outlierDetection: Object.freeze({ consecutiveErrors: 5, intervalMs: 10_000, baseEjectionTimeMs: 30_000, maxEjectionPercent: 10 }),
  authorization: 'allow' as const,
  accessLog: false,
  tracing: true,
});

const ms = (text: string | undefined, fallback: number): number => {
  if (text === undefined) return fallback;
  return parseDuration(text) ?? fallback;
};

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Each resource's id and location, kept by identity: a resource object never changes, and the
 * incremental compiler (compiler/memo.ts) hands unchanged ones on from commit to commit.
 */
const resourceSources = new WeakMap<object, readonly [string, SourceLocation]>();

const NO_TABLES: readonly TableGroup[] = Object.freeze([]);

/** Sources collects id → location while lowering; turned into a key-sorted SourceMap at the end. */
type Sources = Map<string, SourceLocation>;

/** lower builds the BundleSpec and SourceMap; see the file comment for its guarantees. */
export function lower(tree: ResolvedTree, _ctx: PassContext): LoweredTree {
  const sources = new Map<string, SourceLocation>();
  const mesh = lowerMesh(tree);
  const memo = _ctx.options.memo;
  const tables = tablesByParent(tree, memo);
  const services: ServiceEntry[] = [];
  let meshKey: string | undefined;
  // sort() without a comparator orders by UTF-16 code units, as byString does, and runs natively.
  for (const id of [...tree.services.keys()].sort()) {
    const svc = tree.services.get(id);
    if (!svc) continue;
    const groups = tables.get(id) ?? NO_TABLES;
    if (!memo) {
      services.push(lowerService(svc, id, tree, mesh, groups, sources));
      continue;
    }
    // Incremental: a Service whose every input is the same object as last time keeps its entry.
    meshKey ??= JSON.stringify(mesh);
    const deps = serviceDeps(svc, id, tree, meshKey, groups);
    let kept = memo.service(id, deps);
    if (!kept) {
      const own: Sources = new Map();
      const entry = lowerService(svc, id, tree, mesh, groups, own);
      const flat: (string | SourceLocation)[] = [];
      for (const [k, v] of own) flat.push(k, v);
      kept = { deps, entry, sources: flat };
      memo.setService(id, kept);
    }
    services.push(kept.entry);
    const ks = kept.sources;
    for (let i = 0; i < ks.length; i += 2) sources.set(ks[i] as string, ks[i + 1] as SourceLocation);
  }
  for (const r of tree.resources) {
    let at = resourceSources.get(r);
    if (!at) resourceSources.set(r, (at = [resourceId(r), locate(r.origin, '')]));
    if (!sources.has(at[0])) sources.set(at[0], at[1]);
  }
  return { spec: { mesh, services } satisfies BundleSpec, sources: sourceMapOf(sources, memo) };
}

/**
 * Per CompileMemo: the last compile's source map, its ids in order, each one's location (the
 * same order) and canonical text (`"id":{...}`).
 */
const sourceMemos = new WeakMap<CompileMemo, { ids: string[]; locs: SourceLocation[]; texts: string[]; map: SourceMap }>();

/**
 * sourceMapOf turns the collected locations into a SourceMap with ids in code-unit order. With a
 * memo, a compile whose ids are those of the last one (most commits: nothing added or removed)
 * reuses their order instead of sorting again, and one whose every location is the same object
 * as then reuses the map itself. The memo also keeps each id's canonical text, so the map's text
 * (emit.ts) is a join of mostly kept pieces.
 */
function sourceMapOf(sources: Sources, memo: CompileMemo | undefined): SourceMap {
  const prev = memo ? sourceMemos.get(memo) : undefined;
  let ids: string[] | null = null;
  let locs: SourceLocation[] | null = null;
  // Positions whose location object differs from last time's (the same ids in the same order).
  let moved: number[] | null = null;
  if (prev && prev.ids.length === sources.size) {
    const n = prev.ids.length;
    const now = new Array<SourceLocation>(n);
    const changed: number[] = [];
    let i = 0;
    for (; i < n; i++) {
      const at = sources.get(prev.ids[i] as string);
      if (at === undefined) break;
      now[i] = at;
      if (at !== prev.locs[i]) changed.push(i);
    }
    if (i === n) {
      if (changed.length === 0) return prev.map;
      ids = prev.ids;
      locs = now;
      moved = changed;
    }
  }
  // sort() without a comparator orders by UTF-16 code units, as byString does, and runs natively.
  ids ??= [...sources.keys()].sort();
  locs ??= ids.map((id) => sources.get(id) as SourceLocation);
  const map: SourceMap = {};
  // Ids are `Kind/namespace/name` or `namespace/name#…`: never an array index, so the map is canonical as built.
  let canonical = true;
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i] as string;
    if (id.indexOf('/') < 0) canonical = false;
    map[id] = locs[i] as SourceLocation;
  }
  if (canonical) markCanonical(map);
  if (!memo) return map;
  // The same ids as last time: position i is the same id, so its text is kept unless its
  // location object changed; otherwise each is made afresh.
  const textOf = (i: number): string => `${JSON.stringify(ids[i])}:${canonicalJson(locs[i])}`;
  let texts: string[];
  if (prev && moved) {
    texts = prev.texts.slice();
    for (const i of moved) texts[i] = textOf(i);
  } else {
    texts = ids.map((_, i) => textOf(i));
  }
  // Joined when the bundle's text is made (after the controller has served the slices).
  rememberSourcesJson(map, () => `{${texts.join(',')}}`);
  rememberSourceIds(map, ids);
  sourceMemos.set(memo, { ids, locs, texts, map });
  return map;
}

/**
 * serviceDeps lists every input lowerService reads for Service `id`, as values compared by
 * identity (objects) or equality (strings): the Service, the mesh settings (as text), its
 * policies, its tables (precedence.ts hands on the same array while the parent's attachments are
 * unchanged), and for each route in them its resolution (resolve.ts hands on the same object
 * while every backend, mirror and Fault it names resolves to the same object) and its rate
 * limits. Separators keep two lists from running into each other. Anything lowerService reads
 * must be covered here.
 */
function serviceDeps(svc: Service, id: string, tree: ResolvedTree, meshKey: string, groups: readonly TableGroup[]): unknown[] {
  const deps: unknown[] = [svc, meshKey, tree.backendPolicies.get(id) ?? null, '|a'];
  for (const p of tree.authorizationPolicies.get(id) ?? []) deps.push(p);
  deps.push('|r');
  for (const p of tree.serviceRateLimits.get(id) ?? []) deps.push(p);
  deps.push('|t', groups);
  let last: Route | null = null;
  for (const g of groups) {
    for (const e of g.entries) {
      const route = e.attachment.route;
      if (route === last) continue;
      last = route;
      deps.push('|o', tree.resolutions.get(route) ?? null);
      for (const p of tree.routeRateLimits.get(e.routeKey) ?? []) deps.push(p);
    }
  }
  return deps;
}

function locate(origin: Route['origin'], pointer: string): SourceLocation {
  // The parser's eager positions answer without building spans (one of these per rule and match).
  const at = origin.positions instanceof LazyPositions ? origin.positions.lineColumnOf(pointer) : undefined;
  if (at) return { column: at.column, file: origin.file, line: at.line };
  const s = spanAt(origin, pointer);
  return { column: s.column, file: origin.file, line: s.line };
}

/**
 * Set by sortKeys when it met a key made only of digits: an object holding an array-index key
 * keeps those keys first, in numeric order, whatever order they were written in, so the entry
 * being lowered is not canonical by construction (emit then sorts it). Reset per Service.
 */
let digitKeys = false;
const DIGITS = /^[0-9]+$/;

function sortKeys<T>(o: Record<string, T>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const k of Object.keys(o).sort(byString)) {
    if (DIGITS.test(k)) digitKeys = true;
    out[k] = o[k] as T;
  }
  return out;
}

function lowerProxy(p: NonNullable<MeshConfig['spec']['proxy']>): MeshProxySettings {
  const d = DEFAULT_PROXY_SETTINGS;
  const pn = p.pathNormalization;
  return {
    maxConnections: p.maxConnections ?? d.maxConnections,
    maxRequestHeadersBytes: p.maxRequestHeadersBytes ?? d.maxRequestHeadersBytes,
    maxRequestHeadersCount: p.maxRequestHeadersCount ?? d.maxRequestHeadersCount,
    maxResponseHeadersBytes: p.maxResponseHeadersBytes ?? d.maxResponseHeadersBytes,
    pathNormalization: {
      escapedSlashes: pn?.escapedSlashes ?? d.pathNormalization.escapedSlashes,
      mergeSlashes: pn?.mergeSlashes ?? d.pathNormalization.mergeSlashes,
      stripPathParameters: pn?.stripPathParameters ?? d.pathNormalization.stripPathParameters,
    },
    requestHeadersTimeoutMs: ms(p.requestHeadersTimeout, d.requestHeadersTimeoutMs),
    streamIdleTimeoutMs: ms(p.streamIdleTimeout, d.streamIdleTimeoutMs),
    requestTimeoutMs: ms(p.requestTimeout, d.requestTimeoutMs),
  };
}

function lowerMesh(tree: ResolvedTree): MeshSettings {
  const spec = tree.meshConfig?.spec;
  const d = spec?.defaults;
  const retry: RetryPolicy | null = d?.retry
    ? {
        attempts: d.retry.attempts ?? BUILTIN_DEFAULTS.retryAttempts,
        backoffMs: ms(d.retry.backoff, BUILTIN_DEFAULTS.retryBackoffMs),
        codes: codes(d.retry.codes ?? [...BUILTIN_DEFAULTS.retryCodes]),
        ...(d.retry.grpcCodes && d.retry.grpcCodes.length > 0 ? { grpcCodes: [...new Set(d.retry.grpcCodes)].sort() } : {}),
      }
    : null;
  return {
    authorization: { default: spec?.authorization?.default ?? BUILTIN_DEFAULTS.authorization },
    defaults: {
      // Written only when the MeshConfig sets it: absent means */*, and bundles of repositories
      // that never mention egress stay byte-identical to those of earlier versions.
      ...(d?.egress ? { egress: normalizeEgress(d.egress) } : {}),
      retry,
      timeouts: {
        backendRequestMs: ms(d?.timeouts?.backendRequest, BUILTIN_DEFAULTS.backendRequestTimeoutMs),
        requestMs: ms(d?.timeouts?.request, BUILTIN_DEFAULTS.requestTimeoutMs),
      },
    },
    ...(spec?.mtls?.mode === 'PERMISSIVE' ? { mtls: { mode: 'PERMISSIVE' as const } } : {}),
    // Written only when the MeshConfig has spec.proxy (every field filled in): bundles of
    // repositories that never mention it keep their digest.
    ...(spec?.proxy ? { proxy: lowerProxy(spec.proxy) } : {}),
    telemetry: {
      accessLog: spec?.telemetry?.accessLog ?? BUILTIN_DEFAULTS.accessLog,
      tracing: spec?.telemetry?.tracing ?? BUILTIN_DEFAULTS.tracing,
    },
  };
}

/** Retry codes are a set: sorted, without repeats. */
function codes(list: number[]): number[] {
  return [...new Set(list)].sort((a, b) => a - b);
}

function lowerService(svc: Service, id: string, tree: ResolvedTree, mesh: MeshSettings, groups: readonly TableGroup[], sources: Sources): ServiceEntry {
  digitKeys = false;
  const entry = lowerServiceEntry(svc, id, tree, mesh, groups, sources);
  // Every object below is written with its keys in code-unit order and holds only finite numbers
  // (validated integers, parsed durations, sums of weights): canonical unless a key was all digits.
  if (!digitKeys) markCanonical(entry);
  return entry;
}

function lowerServiceEntry(svc: Service, id: string, tree: ResolvedTree, mesh: MeshSettings, groups: readonly TableGroup[], sources: Sources): ServiceEntry {
  const ports = svc.spec.ports.map((p) => (p.appProtocol !== undefined ? { appProtocol: p.appProtocol, name: p.name, port: p.port } : { name: p.name, port: p.port }));
  const firstPort = svc.spec.ports[0]?.port ?? 0;
  const endpoints: Endpoint[] = (svc.spec.endpoints ?? [])
    .map((e): Endpoint => (e.meshed === true ? { address: e.address, labels: sortKeys(e.labels ?? {}), meshed: true, port: e.port ?? firstPort } : { address: e.address, labels: sortKeys(e.labels ?? {}), port: e.port ?? firstPort }))
    .sort((a, b) => byString(a.address, b.address) || a.port - b.port);
  const routing: Routing = { consumers: {}, producer: null };
  for (const g of groups) {
    const table = lowerTable(g, tree, mesh, sources);
    if (g.consumer) routing.consumers[g.table] = table;
    else routing.producer = table;
  }
  routing.consumers = sortKeys(routing.consumers);
  // Only PERMISSIVE is written (absent means STRICT), so bundles of meshes that never mention mTLS keep their digest.
  const permissive = (svc.spec.mtls?.mode ?? mesh.mtls?.mode ?? 'STRICT') === 'PERMISSIVE';
  const egress = svc.spec.egress ?? mesh.defaults.egress;
  return {
    authorization: lowerAuthorization(tree.authorizationPolicies.get(id) ?? []),
    backendPolicy: lowerBackendPolicy(tree.backendPolicies.get(id) ?? null),
    ...(egress ? { egress: normalizeEgress(egress) } : {}),
    endpoints,
    id,
    ...(permissive ? { mtls: { mode: 'PERMISSIVE' as const } } : {}),
    name: svc.metadata.name,
    namespace: svc.metadata.namespace,
    ports,
    rateLimits: lowerRateLimits(tree.serviceRateLimits.get(id) ?? []),
    routing,
  };
}

function lowerTable(g: TableGroup, tree: ResolvedTree, mesh: MeshSettings, sources: Sources): RouteTable {
  const matches: RouteMatch[] = [];
  const rules: Rule[] = [];
  const ruleIndex = new Map<HTTPRouteRule, number>();
  const index: RouteIndex = { exact: {}, prefix: {}, regex: [] };
  for (const e of g.entries) {
    let ri = ruleIndex.get(e.rule);
    if (ri === undefined) {
      ri = rules.length;
      ruleIndex.set(e.rule, ri);
      rules.push(lowerRule(e, tree, mesh, sources));
    }
    const route = e.attachment.route;
    const id = `${e.routeKey}#${e.ruleIndex}.${e.matchIndex}`;
    const at = matches.length;
    matches.push({
      headers: e.match.headers,
      id,
      method: e.match.method,
      path: e.match.path,
      port: e.match.port,
      queryParams: e.match.queryParams,
      rule: ri,
    });
    sources.set(id, locate(route.origin, e.implicit ? `/spec/rules/${e.ruleIndex}` : `/spec/rules/${e.ruleIndex}/matches/${e.matchIndex}`));
    const p = e.match.path;
    if (p.type === 'Exact') (index.exact[p.value] ??= []).push(at);
    else if (p.type === 'PathPrefix') (index.prefix[p.value] ??= []).push(at);
    else index.regex.push(at);
  }
  return { index: { exact: sortKeys(index.exact), prefix: sortKeys(index.prefix), regex: index.regex }, matches, rules };
}

function lowerRule(e: MatchEntry, tree: ResolvedTree, mesh: MeshSettings, sources: Sources): Rule {
  const rule = e.rule;
  const route = e.attachment.route;
  const id = `${e.routeKey}#${e.ruleIndex}`;
  sources.set(id, locate(route.origin, `/spec/rules/${e.ruleIndex}`));
  const prefix = prefixMatchOf(rule) ?? '/';
  const filters = lowerFilters(rule.filters, tree, prefix);
  const refs = rule.backendRefs ?? [];
  const backends: WeightedBackend[] = [];
  for (const b of refs) {
    const weight = b.weight ?? 1;
    const target = tree.backends.get(b);
    if (weight <= 0 || !target) continue;
    backends.push({
      filters: lowerFilters(b.filters, tree, prefix),
      port: target.port,
      service: target.service,
      weight,
    });
  }
  const redirects = filters.some((f) => f.type === 'RequestRedirect');
  let direct: Rule['direct'] = null;
  if (refs.length === 0 && !redirects) direct = { reason: 'rule has no backendRefs', status: 500 };
  else if (!redirects && backends.length === 0) direct = { reason: 'every backendRef has weight 0', status: 500 }; // Gateway API conformance: HTTPRouteAllBackendsWeightZero
  const timeouts: Timeouts = {
    backendRequestMs: ms(rule.timeouts?.backendRequest, mesh.defaults.timeouts.backendRequestMs),
    requestMs: ms(rule.timeouts?.request, mesh.defaults.timeouts.requestMs),
  };
  const meshRetry = mesh.defaults.retry;
  const retry: RetryPolicy | null = rule.retry
    ? {
        attempts: rule.retry.attempts ?? meshRetry?.attempts ?? BUILTIN_DEFAULTS.retryAttempts,
        backoffMs: ms(rule.retry.backoff, meshRetry?.backoffMs ?? BUILTIN_DEFAULTS.retryBackoffMs),
        codes: codes(rule.retry.codes ?? meshRetry?.codes ?? [...BUILTIN_DEFAULTS.retryCodes]),
        // An HTTPRoute retry cannot name gRPC statuses; the mesh default's apply to its gRPC calls.
        ...(meshRetry?.grpcCodes ? { grpcCodes: [...meshRetry.grpcCodes] } : {}),
      }
    : meshRetry
      ? { attempts: meshRetry.attempts, backoffMs: meshRetry.backoffMs, codes: [...meshRetry.codes], ...(meshRetry.grpcCodes ? { grpcCodes: [...meshRetry.grpcCodes] } : {}) }
      : null;
  return {
    backends: redirects ? [] : backends,
    direct,
    filters,
    id,
    // RateLimitPolicy targetRefs name HTTPRoutes only.
    rateLimits: route.kind === 'HTTPRoute' ? lowerRateLimits(tree.routeRateLimits.get(e.routeKey) ?? []) : [],
    retry,
    // `kind` only for GRPCRoute: HTTPRoute rules keep their shape, so existing digests stay.
    route: route.kind === 'GRPCRoute' ? { kind: 'GRPCRoute', name: route.metadata.name, namespace: route.metadata.namespace } : { name: route.metadata.name, namespace: route.metadata.namespace },
    timeouts,
    totalWeight: redirects ? 0 : backends.reduce((s, b) => s + b.weight, 0),
  };
}

function lowerModifier(m: HTTPHeaderModifier | undefined): HeaderModifier {
  return {
    add: (m?.add ?? []).map((h) => ({ name: h.name, value: h.value })),
    remove: [...(m?.remove ?? [])],
    set: (m?.set ?? []).map((h) => ({ name: h.name, value: h.value })),
  };
}

function lowerPath(p: HTTPPathModifier | undefined, prefix: string): PathModifier | null {
  if (!p) return null;
  if (p.type === 'ReplaceFullPath') return { type: 'ReplaceFullPath', value: p.replaceFullPath ?? '/' };
  return { prefix, type: 'ReplacePrefixMatch', value: p.replacePrefixMatch ?? '/' };
}

/** lowerFilters maps a filter list (most rules and backendRefs have none), dropping filters with no body. */
function lowerFilters(list: HTTPRouteFilter[] | undefined, tree: ResolvedTree, prefix: string): Filter[] {
  const out: Filter[] = [];
  if (list) {
    for (const f of list) {
      const lowered = lowerFilter(f, tree, prefix);
      if (lowered !== null) out.push(lowered);
    }
  }
  return out;
}

/** lowerFilter maps one HTTPRoute filter to its bundle form; null for a filter with no body (schema-refused). */
function lowerFilter(f: HTTPRouteFilter, tree: ResolvedTree, prefix: string): Filter | null {
  switch (f.type) {
    case 'RequestHeaderModifier':
      return { modifier: lowerModifier(f.requestHeaderModifier), type: 'RequestHeaderModifier' };
    case 'ResponseHeaderModifier':
      return { modifier: lowerModifier(f.responseHeaderModifier), type: 'ResponseHeaderModifier' };
    case 'RequestRedirect': {
      const r = f.requestRedirect ?? {};
      return {
        redirect: { hostname: r.hostname ?? null, path: lowerPath(r.path, prefix), port: r.port ?? null, scheme: r.scheme ?? null, statusCode: r.statusCode ?? 302 },
        type: 'RequestRedirect',
      };
    }
    case 'URLRewrite':
      return { rewrite: { hostname: f.urlRewrite?.hostname ?? null, path: lowerPath(f.urlRewrite?.path, prefix) }, type: 'URLRewrite' };
    case 'RequestMirror': {
      const m = f.requestMirror;
      const target = m ? tree.backends.get(m.backendRef) : undefined;
      if (!m || !target) return null;
      let percent = 100;
      if (m.percent !== undefined) percent = m.percent;
      else if (m.fraction) percent = (m.fraction.numerator / (m.fraction.denominator ?? 100)) * 100;
      return { mirror: { percent: Math.min(100, Math.max(0, percent)), port: target.port, service: target.service }, type: 'RequestMirror' };
    }
    case 'ExtensionRef': {
      const fault = f.extensionRef ? tree.extensions.get(f.extensionRef) : undefined;
      if (!fault) return null;
      const d = fault.spec.delay;
      const a = fault.spec.abort;
      return {
        fault: {
          abort: a ? { percent: a.percent ?? 100, status: a.status } : null,
          delay: d ? { ms: ms(d.fixed, 0), percent: d.percent ?? 100 } : null,
        },
        name: fault.metadata.name,
        type: 'Fault',
      };
    }
    default:
      return null;
  }
}

function lowerBackendPolicy(p: BackendPolicy | null): BackendPolicySettings {
  const budget = p?.spec.retryBudget;
  const retryBudget = {
    intervalMs: ms(budget?.interval, BUILTIN_DEFAULTS.retryBudget.intervalMs),
    minRetriesPerSecond: budget?.minRetriesPerSecond ?? BUILTIN_DEFAULTS.retryBudget.minRetriesPerSecond,
    percent: budget?.percent ?? BUILTIN_DEFAULTS.retryBudget.percent,
  };
  if (!p) return { connectionPool: null, loadBalancer: { type: 'RoundRobin' }, outlierDetection: null, policy: null, retryBudget };
  const lb = p.spec.loadBalancer;
  let loadBalancer: BackendPolicySettings['loadBalancer'] = { type: 'RoundRobin' };
  if (lb?.type === 'ConsistentHash') {
    loadBalancer = { hashOn: lb.hashOn?.header !== undefined ? { header: lb.hashOn.header.toLowerCase() } : { clientAddress: true }, type: 'ConsistentHash' };
  } else if (lb) {
    loadBalancer = { type: lb.type };
  }
  const cp = p.spec.connectionPool;
  const od = p.spec.outlierDetection;
  const D = BUILTIN_DEFAULTS;
  return {
    connectionPool: cp
      ? { maxConnections: cp.maxConnections ?? D.connectionPool.maxConnections, maxPendingRequests: cp.maxPendingRequests ?? D.connectionPool.maxPendingRequests }
      : null,
    loadBalancer,
    outlierDetection: od
      ? {
          baseEjectionTimeMs: ms(od.baseEjectionTime, D.outlierDetection.baseEjectionTimeMs),
          consecutiveErrors: od.consecutiveErrors ?? D.outlierDetection.consecutiveErrors,
          intervalMs: ms(od.interval, D.outlierDetection.intervalMs),
          maxEjectionPercent: od.maxEjectionPercent ?? D.outlierDetection.maxEjectionPercent,
        }
      : null,
    policy: p.metadata.name,
    retryBudget,
  };
}

function lowerAuthorization(policies: AuthorizationPolicy[]): ServiceEntry['authorization'] {
  const entry = (p: AuthorizationPolicy): AuthorizationPolicyEntry => ({
    policy: `${p.metadata.namespace}/${p.metadata.name}`,
    rules: p.spec.rules.map((r) => ({
      from: r.from && r.from.length > 0 ? r.from.map((f) => ({ namespace: f.namespace ?? p.metadata.namespace, service: f.service })) : null,
      to:
        r.to && r.to.length > 0
          ? r.to.map((t) => ({ methods: t.methods ? t.methods.map((m) => m.toUpperCase()) : null, paths: t.paths ? [...t.paths] : null }))
          : null,
      when: r.when && r.when.length > 0 ? r.when.map((w) => ({ header: w.header.toLowerCase(), values: [...w.values] })) : null,
    })),
  });
  const sorted = [...policies].sort((a, b) => byString(`${a.metadata.namespace}/${a.metadata.name}`, `${b.metadata.namespace}/${b.metadata.name}`));
  return {
    allow: sorted.filter((p) => p.spec.action === 'ALLOW').map(entry),
    deny: sorted.filter((p) => p.spec.action === 'DENY').map(entry),
  };
}

/** lowerKey normalises a rate-limit key: header names are case-insensitive, so lower-cased. */
function lowerKey(key: string): string {
  return key.startsWith('header:') ? `header:${key.slice('header:'.length).toLowerCase()}` : key;
}

function lowerRateLimits(policies: RateLimitPolicy[]): RateLimit[] {
  // Called for every rule and Service; nearly all have none.
  if (policies.length === 0) return [];
  const sorted = [...policies].sort((a, b) => byString(`${a.metadata.namespace}/${a.metadata.name}`, `${b.metadata.namespace}/${b.metadata.name}`));
  return sorted.flatMap((p) =>
    p.spec.limits.map((l) => ({
      burst: l.burst ?? l.requests,
      key: lowerKey(l.key),
      perMs: ms(l.per, 1000),
      policy: `${p.metadata.namespace}/${p.metadata.name}`,
      requests: l.requests,
    })),
  );
}
