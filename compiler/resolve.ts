/**
 * resolve: every reference between resources (parentRefs, backendRefs, mirror backendRefs,
 * targetRefs, ExtensionRef, ports, callers) is looked up once, here, and the answers are kept in
 * indexes so analyze and lower never search. Duplicates and conflicting policies are found too.
 *
 * Unresolvable references are reported and left out of the indexes, so the later passes can run
 * over what survived (analyze still reports everything; lower only runs error-free).
 */
import { didYouMean } from './did-you-mean.js';
import { report } from './diagnostics.js';
import {
  namespacedName,
  resourceId,
  type AuthorizationPolicy,
  type BackendObjectRef,
  type BackendPolicy,
  type Fault,
  type MeshConfig,
  type RateLimitPolicy,
  type Resource,
  type Route,
  type RouteTest,
  type Service,
  type TargetRef,
} from './resources.js';
import { spanAt } from './diagnostics.js';
import { asHttpShape } from './grpcroute.js';
import type { PassContext, ValidatedTree } from './types.js';
import type { CompileMemo } from './memo.js';

/** ResolvedBackend is a backendRef or mirror backendRef after lookup: a Service id and one of its ports. */
export interface ResolvedBackend {
  /** `namespace/name` of the Service. */
  service: string;
  port: number;
}

/**
 * Attachment is one route attached to one parent Service through one parentRef. `table` is the
 * namespace whose callers it serves: the Service's namespace for a producer route, the route's
 * own namespace for a consumer route (GAMMA).
 */
export interface Attachment {
  route: Route;
  /** `namespace/name` of the parent Service. */
  parent: string;
  /** Index of the parentRef within the route. */
  parentIndex: number;
  /** The parentRef's port (or sectionName's port); null = every port of the Service. */
  port: number | null;
  consumer: boolean;
  /** Caller namespace for consumer routes; the Service's namespace for producer routes. */
  table: string;
}

/**
 * ResolvedTree is the validated resources with their references looked up. Every index holds only
 * first occurrences (a duplicate is reported and ignored) and only references that resolved.
 * Lists are in resource order (load sorts files by path), so iteration is deterministic.
 */
export interface ResolvedTree {
  /** All validated resources, duplicates included, in input order. */
  resources: Resource[];
  /** Service id `namespace/name` → Service. */
  services: Map<string, Service>;
  /** Every HTTPRoute and GRPCRoute kept (first of each id), in input order; GRPCRoutes in the HTTPRoute shape (grpcroute.ts). */
  routes: Route[];
  /** Parent Service id → its attachments, in input order. */
  routesByParent: Map<string, Attachment[]>;
  /** backendRef and mirror backendRef objects → what they resolved to (absent: unresolved). */
  backends: Map<BackendObjectRef, ResolvedBackend>;
  /** ExtensionRef objects → the Fault they name (absent: unresolved). */
  extensions: Map<object, Fault>;
  /** Fault id `namespace/name` → Fault. */
  faults: Map<string, Fault>;
  /** Service id → its one BackendPolicy. */
  backendPolicies: Map<string, BackendPolicy>;
  /** Service id → AuthorizationPolicies targeting it. */
  authorizationPolicies: Map<string, AuthorizationPolicy[]>;
  /** Service id → RateLimitPolicies targeting it. */
  serviceRateLimits: Map<string, RateLimitPolicy[]>;
  /** HTTPRoute id `namespace/name` → RateLimitPolicies targeting it. */
  routeRateLimits: Map<string, RateLimitPolicy[]>;
  meshConfig: MeshConfig | null;
  routeTests: RouteTest[];
  /**
   * Each kept route's resolution. With a memo, an object that is the same as in an earlier
   * compile means the route resolved exactly as then (analyze and lower key their reuse on it).
   */
  resolutions: Map<Route, RouteResolution>;
}

const CORE_GROUPS = new Set(['', 'core']);
const SERVICE_GROUPS = new Set(['', 'core', 'weft.dev']);
const ROUTE_GROUPS = new Set(['', 'gateway.networking.k8s.io']);

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/** lookupPort resolves a Service reference's port; reports and returns null on failure. */
function lookupPort(svc: Service, port: number | undefined, r: Resource | Route, pointer: string, ctx: PassContext): number | null {
  const ports = svc.spec.ports;
  if (port !== undefined) {
    if (ports.some((p) => p.port === port)) return port;
    report(ctx, 'WFT404', `Service ${svc.metadata.namespace}/${svc.metadata.name} has no port ${port}`, { origin: r.origin, pointer: `${pointer}/port`, resource: r }, {
      hint: `declared ports: ${ports.map((p) => p.port).join(', ') || 'none'}`,
    });
    return null;
  }
  if (ports.length === 1 && ports[0]) return ports[0].port;
  report(ctx, 'WFT404', ports.length === 0
    ? `Service ${svc.metadata.namespace}/${svc.metadata.name} declares no port`
    : `Service ${svc.metadata.namespace}/${svc.metadata.name} has ${ports.length} ports; say which one`, { origin: r.origin, pointer, resource: r }, {
    hint: `add port: one of ${ports.map((p) => p.port).join(', ')}`,
  });
  return null;
}

function where(r: Resource): string {
  const s = spanAt(r.origin, '/metadata/name');
  return `${r.origin.file}:${s.line}`;
}

/** resolve looks up every reference of `input`; see ResolvedTree for what it guarantees. */
export function resolve(input: ValidatedTree, ctx: PassContext): ResolvedTree {
  const tree: ResolvedTree = {
    resources: input.resources,
    services: new Map(),
    routes: [],
    routesByParent: new Map(),
    backends: new Map(),
    extensions: new Map(),
    faults: new Map(),
    backendPolicies: new Map(),
    authorizationPolicies: new Map(),
    serviceRateLimits: new Map(),
    routeRateLimits: new Map(),
    meshConfig: null,
    routeTests: [],
    resolutions: new Map(),
  };

  // Pass 1: index every resource by id, reporting duplicates against the first occurrence.
  const seen = new Map<string, Resource>();
  const kept: Resource[] = [];
  for (const r of input.resources) {
    const id = resourceId(r);
    const first = seen.get(id);
    if (first) {
      report(ctx, 'WFT401', `${id} is defined twice: here and at ${where(first)}`, { origin: r.origin, pointer: '/metadata/name', resource: r }, {
        hint: `first definition: ${where(first)}; second: ${where(r)}`,
      });
      continue;
    }
    seen.set(id, r);
    kept.push(r);
  }

  const key = (namespace: string, name: string): string => `${namespace}/${name}`;
  for (const r of kept) {
    switch (r.kind) {
      case 'Service':
        tree.services.set(namespacedName(r), r);
        break;
      case 'Fault':
        tree.faults.set(namespacedName(r), r);
        break;
      case 'HTTPRoute':
        tree.routes.push(r);
        break;
      case 'GRPCRoute':
        tree.routes.push(asHttpShape(r));
        break;
      case 'RouteTest':
        tree.routeTests.push(r);
        break;
      case 'MeshConfig':
        if (tree.meshConfig) {
          report(ctx, 'WFT408', `a second MeshConfig (${r.metadata.name}); the first is at ${where(tree.meshConfig)}`, { origin: r.origin, pointer: '/metadata/name', resource: r });
        } else {
          tree.meshConfig = r;
        }
        break;
      default:
        break;
    }
  }
  // RateLimitPolicy targetRefs name HTTPRoutes only. Built on first use: most trees have no such policy.
  let routeIdSet: Set<string> | null = null;
  const routeIds = (): Set<string> => (routeIdSet ??= new Set(tree.routes.filter((r) => r.kind === 'HTTPRoute').map((r) => key(r.metadata.namespace, r.metadata.name))));

  // A missing Service is usually a typo: suggest the closest name in the same namespace.
  const namesIn = new Map<string, string[]>();
  const serviceHint = (ns: string, name: string): { hint?: string } => {
    let names = namesIn.get(ns);
    if (!names) {
      names = [...tree.services.values()].filter((s) => s.metadata.namespace === ns).map((s) => s.metadata.name);
      namesIn.set(ns, names);
    }
    const guess = didYouMean(name, names);
    return guess ? { hint: `did you mean "${guess}"?` } : {};
  };

  // Pass 2: routes: parents, backends, mirrors, extension refs. One route's resolution reads
  // only the Services and Faults it names, so with a memo a route whose every lookup finds the
  // same object as last time replays what it produced then (the same Attachment and
  // ResolvedBackend objects, so the later passes see unchanged inputs by identity).
  const resolved = ctx.options.memo ? memoOf(ctx.options.memo) : null;
  for (const r of tree.routes) {
    const before = resolved?.get(r);
    let res: RouteResolution;
    if (before && unchanged(before, tree)) {
      res = before;
    } else {
      const started = ctx.diagnostics.length;
      res = resolveRoute(r, tree, ctx, serviceHint);
      if (ctx.options.memo) ctx.options.memo.stats.resolved++;
      // A route with findings is resolved again next time: its hints read the names of a whole
      // namespace, which the recorded lookups do not cover.
      if (resolved && ctx.diagnostics.length === started) resolved.set(r, res);
    }
    tree.resolutions.set(r, res);
    for (const a of res.attachments) push(tree.routesByParent, a.parent, a);
    for (const [ref, b] of res.backends) tree.backends.set(ref, b);
    for (const [ext, f] of res.extensions) tree.extensions.set(ext, f);
  }

  dropConflictingHttpRoutes(tree, ctx);

  // Pass 3: policies and their targets.
  for (const r of kept) {
    if (r.kind !== 'BackendPolicy' && r.kind !== 'AuthorizationPolicy' && r.kind !== 'RateLimitPolicy') continue;
    const targets: TargetRef[] = r.spec.targetRefs;
    targets.forEach((t, i) => {
      const pointer = `/spec/targetRefs/${i}`;
      const group = t.group ?? '';
      const ns = t.namespace ?? r.metadata.namespace;
      const id = key(ns, t.name);
      const kindOk = t.kind === 'Service' ? SERVICE_GROUPS.has(group) : t.kind === 'HTTPRoute' && r.kind === 'RateLimitPolicy' && ROUTE_GROUPS.has(group);
      if (!kindOk) {
        report(ctx, 'WFT407', `a ${r.kind} cannot target ${group ? `${group}/` : ''}${t.kind}`, { origin: r.origin, pointer, resource: r }, {
          hint: r.kind === 'RateLimitPolicy' ? 'target a Service or an HTTPRoute' : 'target a Service',
        });
        return;
      }
      if (t.kind === 'HTTPRoute') {
        if (!routeIds().has(id)) {
          report(ctx, 'WFT405', `target HTTPRoute ${id} does not exist`, { origin: r.origin, pointer: `${pointer}/name`, resource: r });
          return;
        }
        push(tree.routeRateLimits, id, r as RateLimitPolicy);
        return;
      }
      if (!tree.services.has(id)) {
        report(ctx, 'WFT405', `target Service ${id} does not exist`, { origin: r.origin, pointer: `${pointer}/name`, resource: r }, serviceHint(ns, t.name));
        return;
      }
      if (r.kind === 'BackendPolicy') {
        const other = tree.backendPolicies.get(id);
        if (other && other !== r) {
          report(ctx, 'WFT409', `Service ${id} already has BackendPolicy ${other.metadata.namespace}/${other.metadata.name} (${where(other)})`, { origin: r.origin, pointer, resource: r });
          return;
        }
        tree.backendPolicies.set(id, r);
      } else if (r.kind === 'AuthorizationPolicy') {
        const list = tree.authorizationPolicies.get(id);
        if (!list?.includes(r)) push(tree.authorizationPolicies, id, r);
      } else {
        const list = tree.serviceRateLimits.get(id);
        if (!list?.includes(r)) push(tree.serviceRateLimits, id, r);
      }
    });
    if (r.kind === 'AuthorizationPolicy') {
      r.spec.rules.forEach((rule, ri) => {
        (rule.from ?? []).forEach((f, fi) => {
          const ns = f.namespace ?? r.metadata.namespace;
          if (!tree.services.has(key(ns, f.service))) {
            report(ctx, 'WFT410', `caller Service ${ns}/${f.service} does not exist`, { origin: r.origin, pointer: `/spec/rules/${ri}/from/${fi}/service`, resource: r });
          }
        });
      });
    }
  }

  checkEgress(tree, ctx);

  for (const t of tree.routeTests) {
    t.spec.cases.forEach((c, ci) => {
      if (c.from === undefined) return;
      const id = callerId(c.from, t.metadata.namespace);
      if (!tree.services.has(id)) {
        report(ctx, 'WFT410', `caller Service ${id} does not exist`, { origin: t.origin, pointer: `/spec/cases/${ci}/from`, resource: t });
      }
    });
  }
  return tree;
}

/**
 * RouteResolution is what resolving one route produced (attachments, resolved backendRefs and
 * mirrors, ExtensionRefs) and every lookup it made to get there: the Service or Fault id and the
 * object found (undefined: none). A route's resolution is a function of the route and those
 * lookups only; see `unchanged`.
 */
export interface RouteResolution {
  readonly services: readonly (readonly [string, Service | undefined])[];
  readonly faults: readonly (readonly [string, Fault | undefined])[];
  readonly attachments: readonly Attachment[];
  readonly backends: readonly (readonly [BackendObjectRef, ResolvedBackend])[];
  readonly extensions: readonly (readonly [object, Fault])[];
}

/** Per CompileMemo: each route's last resolution (routes are kept by identity across commits). */
const memos = new WeakMap<CompileMemo, WeakMap<Route, RouteResolution>>();

function memoOf(memo: CompileMemo): WeakMap<Route, RouteResolution> {
  let m = memos.get(memo);
  if (!m) memos.set(memo, (m = new WeakMap()));
  return m;
}

/** unchanged is true when every lookup `res` made finds the same object in `tree` now. */
function unchanged(res: RouteResolution, tree: ResolvedTree): boolean {
  for (const [id, svc] of res.services) if (tree.services.get(id) !== svc) return false;
  for (const [id, f] of res.faults) if (tree.faults.get(id) !== f) return false;
  return true;
}

/**
 * resolveRoute resolves one route's parentRefs, backendRefs, mirrors and ExtensionRefs against
 * the Services and Faults of `tree` (read only through the recorded lookups), reporting what does
 * not resolve. It changes nothing in `tree`; the caller applies the result.
 */
function resolveRoute(r: Route, tree: ResolvedTree, ctx: PassContext, serviceHint: (ns: string, name: string) => { hint?: string }): RouteResolution {
  const services: [string, Service | undefined][] = [];
  const faults: [string, Fault | undefined][] = [];
  const attachments: Attachment[] = [];
  const backends: [BackendObjectRef, ResolvedBackend][] = [];
  const extensions: [object, Fault][] = [];
  const serviceOf = (ns: string, name: string): Service | undefined => {
    const id = `${ns}/${name}`;
    const svc = tree.services.get(id);
    services.push([id, svc]);
    return svc;
  };

  const resolveBackend = (ref: BackendObjectRef, pointer: string): void => {
    const group = ref.group ?? '';
    const kind = ref.kind ?? 'Service';
    if (!CORE_GROUPS.has(group) || kind !== 'Service') {
      report(ctx, 'WFT407', `backendRef to ${group || 'core'}/${kind} is not supported: Weft routes to Services only`, { origin: r.origin, pointer, resource: r });
      return;
    }
    const ns = ref.namespace ?? r.metadata.namespace;
    const svc = serviceOf(ns, ref.name);
    if (!svc) {
      report(ctx, 'WFT403', `backend Service ${ns}/${ref.name} does not exist`, { origin: r.origin, pointer: `${pointer}/name`, resource: r }, serviceHint(ns, ref.name));
      return;
    }
    const port = lookupPort(svc, ref.port, r, pointer, ctx);
    if (port !== null) backends.push([ref, { service: `${ns}/${ref.name}`, port }]);
  };

  const parents = r.spec.parentRefs ?? [];
  const attached = new Set<string>();
  parents.forEach((p, i) => {
    const pointer = `/spec/parentRefs/${i}`;
    const group = p.group ?? '';
    const kind = p.kind ?? 'Service';
    if (!CORE_GROUPS.has(group) || kind !== 'Service') {
      report(ctx, 'WFT407', `parentRef to ${group || 'core'}/${kind} is not supported: in the mesh (GAMMA) a route's parent is a core Service`, { origin: r.origin, pointer, resource: r }, {
        hint: 'use parentRefs: [{ group: "", kind: Service, name: <service> }]',
      });
      return;
    }
    const ns = p.namespace ?? r.metadata.namespace;
    const svc = serviceOf(ns, p.name);
    if (!svc) {
      report(ctx, 'WFT402', `parent Service ${ns}/${p.name} does not exist`, { origin: r.origin, pointer: `${pointer}/name`, resource: r }, serviceHint(ns, p.name));
      return;
    }
    let port: number | null = null;
    if (p.sectionName !== undefined) {
      const named = svc.spec.ports.find((sp) => sp.name === p.sectionName);
      if (!named) {
        report(ctx, 'WFT404', `Service ${ns}/${p.name} has no port named ${p.sectionName}`, { origin: r.origin, pointer: `${pointer}/sectionName`, resource: r });
        return;
      }
      port = named.port;
      if (p.port !== undefined && p.port !== port) {
        report(ctx, 'WFT404', `sectionName ${p.sectionName} is port ${port}, not ${p.port}`, { origin: r.origin, pointer: `${pointer}/port`, resource: r });
        return;
      }
    } else if (p.port !== undefined) {
      if (!svc.spec.ports.some((sp) => sp.port === p.port)) {
        report(ctx, 'WFT404', `Service ${ns}/${p.name} has no port ${p.port}`, { origin: r.origin, pointer: `${pointer}/port`, resource: r }, {
          hint: `declared ports: ${svc.spec.ports.map((sp) => sp.port).join(', ') || 'none'}`,
        });
        return;
      }
      port = p.port;
    }
    const parent = `${ns}/${p.name}`;
    const consumer = r.metadata.namespace !== ns;
    // The same parent and port named twice is one attachment, not two copies of every match.
    const attachKey = `${parent}:${port ?? '*'}`;
    if (attached.has(attachKey)) return;
    attached.add(attachKey);
    attachments.push({ route: r, parent, parentIndex: i, port, consumer, table: consumer ? r.metadata.namespace : ns });
  });

  const resolveFilter = (f: NonNullable<NonNullable<Route['spec']['rules']>[number]['filters']>[number], pointer: string): void => {
    if (f.type === 'RequestMirror' && f.requestMirror) {
      resolveBackend(f.requestMirror.backendRef, `${pointer}/requestMirror/backendRef`);
    } else if (f.type === 'ExtensionRef' && f.extensionRef) {
      const ext = f.extensionRef;
      if (ext.group !== 'weft.dev' || ext.kind !== 'Fault') {
        report(ctx, 'WFT407', `ExtensionRef to ${ext.group || 'core'}/${ext.kind} is not supported`, { origin: r.origin, pointer: `${pointer}/extensionRef`, resource: r }, {
          hint: 'Weft extensions are { group: weft.dev, kind: Fault, name: <fault> }',
        });
        return;
      }
      const id = `${r.metadata.namespace}/${ext.name}`;
      const fault = tree.faults.get(id);
      faults.push([id, fault]);
      if (!fault) {
        report(ctx, 'WFT406', `Fault ${r.metadata.namespace}/${ext.name} does not exist`, { origin: r.origin, pointer: `${pointer}/extensionRef/name`, resource: r });
        return;
      }
      extensions.push([ext, fault]);
    }
  };

  (r.spec.rules ?? []).forEach((rule, ri) => {
    const rp = `/spec/rules/${ri}`;
    (rule.backendRefs ?? []).forEach((b, bi) => {
      resolveBackend(b, `${rp}/backendRefs/${bi}`);
      (b.filters ?? []).forEach((f, fi) => resolveFilter(f, `${rp}/backendRefs/${bi}/filters/${fi}`));
    });
    (rule.filters ?? []).forEach((f, fi) => resolveFilter(f, `${rp}/filters/${fi}`));
  });
  return { services, faults, attachments, backends, extensions };
}

/**
 * callerId reads a RouteTest `from`: `name` (a Service in the RouteTest's namespace), or
 * `namespace/name`. Returns the Service id `namespace/name`.
 */
export function callerId(from: string, namespace: string): string {
  return from.includes('/') ? from : `${namespace}/${from}`;
}

/**
 * checkEgress resolves the egress entries of every Service and of the MeshConfig default: a
 * `NAMESPACE/NAME` that names no Service is WFT411 (calls to it could never succeed), a
 * `NAMESPACE/*` over a namespace without Services is WFT412. The schema already refused
 * malformed entries, with their positions.
 */
function checkEgress(tree: ResolvedTree, ctx: PassContext): void {
  const owners: { r: Service | MeshConfig; entries: string[]; pointer: string }[] = [];
  if (tree.meshConfig?.spec.defaults?.egress) owners.push({ r: tree.meshConfig, entries: tree.meshConfig.spec.defaults.egress, pointer: '/spec/defaults/egress' });
  for (const svc of tree.services.values()) if (svc.spec.egress) owners.push({ r: svc, entries: svc.spec.egress, pointer: '/spec/egress' });
  if (owners.length === 0) return;
  const namespaces = new Set<string>();
  const ids: string[] = [];
  for (const id of tree.services.keys()) {
    namespaces.add(id.slice(0, id.indexOf('/')));
    ids.push(id);
  }
  for (const { r, entries, pointer } of owners) {
    entries.forEach((e, i) => {
      if (e === '*/*') return;
      const place = { origin: r.origin, pointer: `${pointer}/${i}`, resource: r };
      if (e.endsWith('/*')) {
        const ns = e.slice(0, -2);
        if (namespaces.has(ns)) return;
        const guess = didYouMean(ns, [...namespaces]);
        report(ctx, 'WFT412', `egress entry ${e}: no Service is in namespace ${ns}, so it allows nothing`, place, guess ? { hint: `did you mean "${guess}/*"?` } : {});
        return;
      }
      if (tree.services.has(e)) return;
      // A typo is most often in the name, sometimes in the namespace: search the whole mesh.
      const guess = didYouMean(e, ids);
      report(ctx, 'WFT411', `egress entry ${e}: Service ${e} does not exist`, place, guess ? { hint: `did you mean "${guess}"?` } : {});
    });
  }
}

function overlaps(a: number | null, b: number | null): boolean {
  return a === null || b === null || a === b;
}

/**
 * dropConflictingHttpRoutes applies GEP-1294's route-type precedence: when a GRPCRoute and an
 * HTTPRoute attach to the same Service port (for the same callers: producer or the same consumer
 * namespace), only the GRPCRoute applies; the HTTPRoute's attachment is dropped and reported
 * (upstream status: Accepted=False, reason Conflicted). Attachments without a port cover every port.
 */
function dropConflictingHttpRoutes(tree: ResolvedTree, ctx: PassContext): void {
  for (const [parent, list] of tree.routesByParent) {
    const grpc = list.filter((a) => a.route.kind === 'GRPCRoute');
    if (grpc.length === 0) continue;
    const kept = list.filter((a) => {
      if (a.route.kind !== 'HTTPRoute') return true;
      const winner = grpc.find((g) => g.table === a.table && overlaps(g.port, a.port));
      if (!winner) return true;
      const w = winner.route;
      report(ctx, 'WFT517', `HTTPRoute ${a.route.metadata.namespace}/${a.route.metadata.name} is ignored for Service ${parent}${a.port === null ? '' : ` port ${a.port}`}: GRPCRoute ${w.metadata.namespace}/${w.metadata.name} attaches to the same Service port, and GRPCRoute wins`, { origin: a.route.origin, pointer: `/spec/parentRefs/${a.parentIndex}`, resource: a.route }, {
        hint: 'attach the two routes to different Service ports (parentRefs[].port), or route the HTTP traffic in the GRPCRoute',
      });
      return false;
    });
    tree.routesByParent.set(parent, kept);
  }
}
