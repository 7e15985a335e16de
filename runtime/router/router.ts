import type { BundleSpec, MeshSettings, RouteTable, Rule, ServiceEntry } from '../../schemas/bundle.js';
import { egressMatcher } from '../../schemas/egress.js';
import { buildHostIndex, resolveHost, type HostIndex, type HostTarget } from './hosts.js';
import { Interner } from './intern.js';
import type { RouteRequest } from './request.js';
import { compileTable, lookup, RequestView, type CompiledMatch, type CompiledTable } from './table.js';

/**
 * The router: a pure function of a bundle. `buildRouter` does all the work that can be done ahead
 * (host index, regex compilation, index maps) and returns a frozen object; `route` only looks up.
 * The same code serves the proxy, `weft test` and `weft explain`.
 */

/** CompiledService is a Service with its routing tables compiled. */
export interface CompiledService {
  readonly entry: ServiceEntry;
  readonly producer: CompiledTable | null;
  /** key: caller namespace. */
  readonly consumers: ReadonlyMap<string, CompiledTable>;
  /**
   * The rule used when the Service has no table at all: every request to the Service's own
   * endpoints with the mesh default timeouts and retry (DESIGN: "a Service with no HTTPRoute
   * sends all of its traffic to its own endpoints"). Its id is `<namespace>/<name>#direct`.
   */
  readonly defaultRule: Rule;
}

/** Router is a frozen, immutable route table for one bundle. Safe to share between requests. */
export interface Router {
  /**
   * The spec the router was built from; with `adopt` (BuildOptions), interned and frozen in place.
   * Services, tables and rules below are parts of it, so a caller that keeps the router and this
   * spec keeps nothing else of the parsed bundle.
   */
  readonly spec: BundleSpec;
  readonly mesh: MeshSettings;
  readonly services: ReadonlyMap<string, CompiledService>;
  readonly hosts: HostIndex;
}

/** Which table answered: a consumer table (caller's namespace), the producer table, or none. */
export type TableKind = 'consumer' | 'producer' | 'none';

/**
 * RouteDecision is the outcome of one lookup. `routed`: a rule applies (for a Service without
 * tables, its `defaultRule` with `match: null`). `not-found`: answer 404 with `reason`.
 */
export type RouteDecision =
  | {
      readonly kind: 'routed';
      readonly service: CompiledService;
      readonly port: number | null;
      readonly tableKind: TableKind;
      readonly table: CompiledTable | null;
      readonly match: CompiledMatch | null;
      readonly rule: Rule;
    }
  | {
      readonly kind: 'not-found';
      readonly reason: 'unknown-host' | 'no-route';
      readonly service: CompiledService | null;
      readonly message: string;
      /**
       * Set when the host names a Service of this bundle that is outside the caller's egress
       * scope (its id). A slice does not hold such Services at all, so only the reason
       * (`unknown-host`) is the same with the whole bundle and with the caller's slice.
       */
      readonly outOfScope?: string;
    };

/**
 * BuildOptions: `adopt` hands the spec to the router (the proxy's freshly parsed bundle, which
 * nothing else refers to): its equal parts are made one shared, frozen value in place
 * (runtime/router/intern.ts), so a 10,000-route table costs about half the heap. Without it
 * (`weft test`, `weft explain`) the spec is read and left as it is.
 */
export interface BuildOptions {
  readonly adopt?: boolean;
}

/**
 * buildRouter compiles a bundle's spec. Throws (RegexCompileError, RangeError) on a malformed
 * spec. The router refers to `input` (`Router.spec`), interned and frozen with `adopt`; it keeps
 * nothing else of the caller's.
 */
export function buildRouter(input: BundleSpec, opts: BuildOptions = {}): Router {
  const interner = new Interner({ adopt: true });
  if (opts.adopt === true) for (const e of input.services) for (const t of tablesOf(e)) for (const rec of [t.index.exact, t.index.prefix]) asDictionary(rec);
  const spec = opts.adopt === true ? interner.value(input) : input;
  const services = new Map<string, CompiledService>();
  for (const entry of spec.services) {
    const consumers = new Map<string, CompiledTable>();
    for (const [ns, t] of Object.entries(entry.routing.consumers)) consumers.set(ns, compileTable(t, interner));
    services.set(
      entry.id,
      Object.freeze({
        entry,
        producer: entry.routing.producer ? compileTable(entry.routing.producer, interner) : null,
        consumers,
        // Its timeouts and retry are the caller's objects: shared (and frozen) only when adopted.
        defaultRule: opts.adopt === true ? interner.value(defaultRuleFor(entry, spec.mesh)) : Object.freeze(defaultRuleFor(entry, spec.mesh)),
      }),
    );
  }
  return Object.freeze({ spec, mesh: spec.mesh, services, hosts: buildHostIndex(spec.services) });
}

function tablesOf(e: ServiceEntry): RouteTable[] {
  const out = Object.values(e.routing.consumers);
  if (e.routing.producer) out.push(e.routing.producer);
  return out;
}

/**
 * asDictionary turns a record keyed by data (a table's index: paths to match positions) into a
 * dictionary-mode object, same keys, order and values. Why: V8 gives every parsed object with a
 * new set of keys its own chain of hidden classes (one per key), and freezing adds one more; at
 * 10,000 routes those were 20,000 hidden classes, 1.6 MiB. A dictionary-mode object has none of
 * its own. Deleting a property that is not the last one switches V8 to dictionary mode.
 */
function asDictionary(rec: Record<string, unknown>): void {
  const keys = Object.keys(rec);
  if (keys.length < 2) return;
  const values = keys.map((k) => rec[k]);
  for (const k of keys) delete rec[k];
  keys.forEach((k, i) => (rec[k] = values[i]));
}

function defaultRuleFor(entry: ServiceEntry, mesh: MeshSettings): Rule {
  return {
    id: `${entry.namespace}/${entry.name}#direct`,
    route: { namespace: entry.namespace, name: '' },
    filters: [],
    backends: [{ service: entry.id, port: entry.ports[0]?.port ?? 0, weight: 1, filters: [] }],
    totalWeight: 1,
    direct: null,
    timeouts: mesh.defaults.timeouts,
    retry: mesh.defaults.retry,
    rateLimits: [],
  };
}

/** tableFor chooses the table for a caller: the consumer table of its namespace, else the producer. */
export function tableFor(service: CompiledService, callerNamespace: string | null): { kind: TableKind; table: CompiledTable | null } {
  if (callerNamespace !== null) {
    const c = service.consumers.get(callerNamespace);
    if (c) return { kind: 'consumer', table: c };
  }
  return service.producer ? { kind: 'producer', table: service.producer } : { kind: 'none', table: null };
}

/**
 * route resolves `host` (Host header or absolute-form authority) for a caller in
 * `callerNamespace` (null: unknown caller) and picks the first matching RouteMatch.
 *
 * `caller` is the calling Service's id (`namespace/name`; null: no mesh identity, the whole
 * mesh is visible). Host names then resolve only among the Services in the caller's egress
 * scope (its ServiceEntry's `egress`, else the mesh default, else `*\/*`): a Service outside
 * it is an unknown host, and a bare NAME is unique when one Service *in scope* has it. Because
 * of that rule, a slice holding the scope gives the very same answers as the whole bundle.
 */
export function route(router: Router, host: string, callerNamespace: string | null, req: RouteRequest, caller: string | null = null): RouteDecision {
  const hosts = hostsFor(router, caller);
  const target = resolveKnown(hosts, host, callerNamespace);
  const service = target ? router.services.get(target.service.id) : undefined;
  if (!target || !service) {
    const hidden = hosts !== router.hosts ? resolveHost(router.hosts, host, callerNamespace) : null;
    if (hidden) {
      return {
        kind: 'not-found',
        reason: 'unknown-host',
        service: null,
        message: `host "${host}" is Service ${hidden.service.id}, outside the egress scope of ${caller ?? '?'}`,
        outOfScope: hidden.service.id,
      };
    }
    return { kind: 'not-found', reason: 'unknown-host', service: null, message: `no mesh service answers to host "${host}"` };
  }
  return routeService(service, target.port, callerNamespace, req);
}

/** HOSTS_KEPT bounds the resolved names kept per host index and caller namespace (Host is the client's to choose). */
const HOSTS_KEPT = 1024;

/** Resolved Host values per host index and caller namespace (the proxy's per-request lookup). */
const resolved = new WeakMap<HostIndex, Map<string | null, Map<string, HostTarget | null>>>();

/**
 * resolveKnown is resolveHost remembered per host index and caller namespace: a Host value seen
 * before is one Map lookup instead of a parse (port, case, trailing dot) and the index lookups.
 * The index is immutable, so an answer never goes stale; past HOSTS_KEPT distinct values, new
 * ones are resolved every time (a client sending random Host headers cannot grow it).
 */
function resolveKnown(index: HostIndex, host: string, callerNamespace: string | null): HostTarget | null {
  let byNamespace = resolved.get(index);
  if (byNamespace === undefined) resolved.set(index, (byNamespace = new Map()));
  let known = byNamespace.get(callerNamespace);
  if (known === undefined) byNamespace.set(callerNamespace, (known = new Map()));
  let target = known.get(host);
  if (target === undefined) {
    target = resolveHost(index, host, callerNamespace);
    if (known.size < HOSTS_KEPT) known.set(host, target);
  }
  return target;
}

/** Host indexes cut to one caller's egress scope, built on first use per router and caller. */
const scoped = new WeakMap<Router, Map<string, HostIndex>>();

/**
 * hostsFor is the host index a caller resolves names in: the router's own when the caller has
 * no scope or `*\/*`, else the index of the Services its scope allows (built once, then kept
 * with the router: a proxy has one caller, so one extra index per bundle).
 */
export function hostsFor(router: Router, caller: string | null): HostIndex {
  if (caller === null) return router.hosts;
  let perCaller = scoped.get(router);
  const hit = perCaller?.get(caller);
  if (hit) return hit;
  const scope = router.services.get(caller)?.entry.egress ?? router.mesh.defaults.egress;
  const matcher = egressMatcher(scope);
  let index = router.hosts;
  if (!matcher.wholeMesh) {
    const allowed: ServiceEntry[] = [];
    for (const s of router.services.values()) if (matcher.allows(s.entry.id)) allowed.push(s.entry);
    index = buildHostIndex(allowed);
  }
  if (!perCaller) scoped.set(router, (perCaller = new Map()));
  perCaller.set(caller, index);
  return index;
}

/** routeService is `route` once the Service is known (the inbound side knows it: it is itself). */
export function routeService(service: CompiledService, port: number | null, callerNamespace: string | null, req: RouteRequest): RouteDecision {
  const { kind, table } = tableFor(service, callerNamespace);
  if (!table) return { kind: 'routed', service, port, tableKind: 'none', table: null, match: null, rule: service.defaultRule };
  const match = lookup(table, new RequestView(req, port));
  if (!match) {
    return { kind: 'not-found', reason: 'no-route', service, message: `no route of service ${service.entry.id} matches ${req.method} ${req.path}` };
  }
  return { kind: 'routed', service, port, tableKind: kind, table, match, rule: match.rule };
}
