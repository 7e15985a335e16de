/**
 * Slices: a bundle cut to what one Service's proxies need. A slice is an ordinary bundle (same
 * schema, its own digest over its own spec, signed like any bundle), so a proxy cannot tell a
 * slice from a whole bundle and needs no code for it.
 *
 * What a proxy of Service S uses from a bundle, and so what its slice keeps (which Services:
 * schemas/reachable.ts, shared with the controller and the proxy's endpoint following):
 *  - the mesh settings, whole;
 *  - S's own entry: its inbound policies (authorization, rate limits) and its egress scope;
 *  - every Service in S's egress scope, with the routing S's callers see: the producer table
 *    and the consumer table of S's namespace (other namespaces' consumer tables are never
 *    consulted by a caller in S's namespace);
 *  - every Service those tables send to (backendRefs, mirrors), with the caller-side settings
 *    a forward needs (ports, endpoints, backend policy). A backend's own routes apply only when
 *    it is called by name, which needs it in scope, where it already is; so the closure ends
 *    one hop after the scope.
 * Inbound policies of other Services are enforced by their own proxies and left out, as are
 * Services nobody in the slice reaches.
 *
 * The router resolves names only among the Services in the caller's scope (runtime/router), so
 * the slice answers every request S can send exactly as the whole bundle does; the property
 * test in test/compiler/slice-property.test.ts checks it.
 */
import type { KeyObject } from 'node:crypto';
import type { Bundle, BundleSpec, Filter, RouteTable, Routing, ServiceEntry, SourceMap } from '../schemas/bundle.js';
import { egressMatcher } from '../schemas/egress.js';
import { canonicalJson } from '../schemas/canonical.js';
import { reachOf } from '../schemas/reachable.js';
import { assembleBundle, sourceIdsOf, type EmitResult } from './emit.js';

const NO_ROUTING: Routing = Object.freeze({ consumers: Object.freeze({}) as Routing['consumers'], producer: null });
const NO_AUTHORIZATION: ServiceEntry['authorization'] = Object.freeze({ allow: [], deny: [] });

/**
 * Trimmed entries are cached per (source entry, caller namespace) by identity, so two slices of
 * one bundle, or of two commits that share entries, share the trimmed objects (and emit's
 * per-entry JSON cache then serialises each once).
 */
const trimmedCache = new WeakMap<ServiceEntry, Map<string, ServiceEntry>>();

function cached(entry: ServiceEntry, key: string, make: () => ServiceEntry): ServiceEntry {
  let m = trimmedCache.get(entry);
  if (!m) trimmedCache.set(entry, (m = new Map()));
  let out = m.get(key);
  if (!out) m.set(key, (out = make()));
  return out;
}

/** asCallee is an in-scope Service as callers in `callerNs` see it (spread keeps key order). */
function asCallee(entry: ServiceEntry, callerNs: string): ServiceEntry {
  return cached(entry, `callee:${callerNs}`, () => {
    const own = entry.routing.consumers[callerNs];
    const routing: Routing = { consumers: own ? { [callerNs]: own } : {}, producer: entry.routing.producer };
    return { ...entry, authorization: NO_AUTHORIZATION, rateLimits: [], routing };
  });
}

/** asBackend is a Service only forwarded to: its routing and inbound policies are not needed. */
function asBackend(entry: ServiceEntry): ServiceEntry {
  return cached(entry, 'backend', () => ({ ...entry, authorization: NO_AUTHORIZATION, rateLimits: [], routing: NO_ROUTING }));
}

/** asSelf is the slice's own Service when it is not in its own scope: inbound policies only. */
function asSelf(entry: ServiceEntry): ServiceEntry {
  return cached(entry, 'self', () => ({ ...entry, routing: NO_ROUTING }));
}

function tablesOf(routing: Routing): RouteTable[] {
  const out: RouteTable[] = [];
  if (routing.producer) out.push(routing.producer);
  for (const t of Object.values(routing.consumers)) out.push(t);
  return out;
}

function filterTargets(filters: readonly Filter[], into: Set<string>): void {
  for (const f of filters) if (f.type === 'RequestMirror') into.add(f.mirror.service);
}

/**
 * sliceSpec cuts `spec` to what the proxies of Service `service` (`namespace/name`) need; see
 * the file comment. Pure; entries are shared with `spec` where nothing is cut. A Service that is
 * not in the bundle gets the mesh default scope and no inbound policies.
 */
export function sliceSpec(spec: BundleSpec, service: string): BundleSpec {
  const { scope, ids } = reachOf(spec, service);
  const callerNs = service.slice(0, service.indexOf('/'));
  // The whole bundle's order (sorted by id), so the slice is canonical as well.
  const services: ServiceEntry[] = [];
  for (const e of spec.services) {
    if (!ids.has(e.id)) continue;
    if (!scope.allows(e.id)) services.push(e.id === service ? asSelf(e) : asBackend(e));
    else if (e.id !== service) services.push(asCallee(e, callerNs));
    else services.push(cached(e, 'self-in-scope', () => ({ ...asCallee(e, callerNs), authorization: e.authorization, rateLimits: e.rateLimits })));
  }
  return { mesh: spec.mesh, services };
}

/**
 * sliceSources keeps the source locations of what a slice holds: its Services and their
 * policies, and every route, rule and match of its tables. Not covered by the digest.
 */
export function sliceSources(sources: SourceMap, spec: BundleSpec): SourceMap {
  const want = new Set<string>();
  for (const e of spec.services) {
    want.add(`Service/${e.id}`);
    if (e.backendPolicy.policy !== null) want.add(`BackendPolicy/${e.namespace}/${e.backendPolicy.policy}`);
    for (const p of [...e.authorization.allow, ...e.authorization.deny]) want.add(`AuthorizationPolicy/${p.policy}`);
    for (const l of e.rateLimits) want.add(`RateLimitPolicy/${l.policy}`);
    for (const t of tablesOf(e.routing)) {
      for (const m of t.matches) want.add(m.id);
      for (const r of t.rules) {
        want.add(r.id);
        want.add(`HTTPRoute/${r.route.namespace}/${r.route.name}`);
        for (const l of r.rateLimits) want.add(`RateLimitPolicy/${l.policy}`);
        for (const f of [...r.filters, ...r.backends.flatMap((b) => b.filters)]) if (f.type === 'Fault') want.add(`Fault/${r.route.namespace}/${f.name}`);
      }
    }
  }
  for (const id of meshConfigIds(sources)) want.add(id);
  // Looked up, not scanned: a slice costs its own size, not the whole map's (tens of thousands
  // of ids at 10,000 Services). Sorted like the whole map, so the slice's map is canonical too.
  const out: SourceMap = {};
  for (const id of [...want].sort()) {
    const loc = Object.hasOwn(sources, id) ? sources[id] : undefined;
    if (loc !== undefined) out[id] = loc;
  }
  return out;
}

/**
 * The MeshConfig ids of each whole source map, found once per map (every slice keeps them) by
 * binary search in its sorted ids: a scan would cost the whole map (tens of thousands of ids).
 */
const meshIds = new WeakMap<SourceMap, string[]>();
function meshConfigIds(sources: SourceMap): string[] {
  let out = meshIds.get(sources);
  if (out) return out;
  const ids = sourceIdsOf(sources);
  const prefix = 'MeshConfig/';
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((ids[mid] as string) < prefix) lo = mid + 1;
    else hi = mid;
  }
  out = [];
  for (let i = lo; i < ids.length && (ids[i] as string).startsWith(prefix); i++) out.push(ids[i] as string);
  meshIds.set(sources, out);
  return out;
}

/**
 * sliceBundle is the slice of `bundle` for `service`, as a complete bundle: same revision, its
 * own digest, signed with `key` when given (with the bundle's issuedAt, when it has one).
 */
export function sliceBundle(bundle: Bundle, service: string, key: KeyObject | null = null): EmitResult {
  const spec = sliceSpec(bundle.spec, service);
  // A slice is issued when its bundle was: proxies order slices and bundles by one clock.
  return assembleBundle(spec, sliceSources(bundle.sources, spec), bundle.revision, key, bundle.signature?.issuedAt);
}

/** view is an entry's canonical text as a slice holds it (null: absent), kept per entry object. */
const viewText = new WeakMap<ServiceEntry, string>();
function text(e: ServiceEntry | undefined): string | null {
  if (!e) return null;
  let t = viewText.get(e);
  if (t === undefined) viewText.set(e, (t = canonicalJson(e)));
  return t;
}

/**
 * touchedSlices lists the Services (ids, sorted) whose slice differs between two bundles: the
 * proxies a change between them reloads. Services of either side are considered. Exact but for
 * one over-approximation: a Service whose egress scope was rewritten counts as touched even when
 * the rewrite allows the same Services. Cost: Services × changed entries, not Services².
 */
export function touchedSlices(base: BundleSpec, head: BundleSpec): string[] {
  const b = new Map(base.services.map((e) => [e.id, e]));
  const h = new Map(head.services.map((e) => [e.id, e]));
  const ids = [...new Set([...b.keys(), ...h.keys()])].sort();
  if (canonicalJson(base.mesh) !== canonicalJson(head.mesh)) return ids;
  const changed = ids.filter((id) => text(b.get(id)) !== text(h.get(id)));
  if (changed.length === 0) return [];
  // Who forwards to whom: target → the Services whose producer table, or whose consumer table
  // for a namespace, sends to it (either side: a route that stopped reaching a backend counts).
  const reachers = new Map<string, { producer: Set<string>; consumers: Map<string, Set<string>> }>();
  for (const spec of [base, head]) {
    for (const e of spec.services) {
      const note = (target: string, ns: string | null): void => {
        let r = reachers.get(target);
        if (!r) reachers.set(target, (r = { producer: new Set(), consumers: new Map() }));
        if (ns === null) r.producer.add(e.id);
        else {
          let s = r.consumers.get(ns);
          if (!s) r.consumers.set(ns, (s = new Set()));
          s.add(e.id);
        }
      };
      const walk = (t: RouteTable, ns: string | null): void => {
        const targets = new Set<string>();
        for (const r of t.rules) {
          filterTargets(r.filters, targets);
          for (const be of r.backends) {
            targets.add(be.service);
            filterTargets(be.filters, targets);
          }
        }
        for (const x of targets) note(x, ns);
      };
      if (e.routing.producer) walk(e.routing.producer, null);
      for (const [ns, t] of Object.entries(e.routing.consumers)) walk(t, ns);
    }
  }
  const scopeText = (e: ServiceEntry | undefined, spec: BundleSpec): string => JSON.stringify(e ? (e.egress ?? spec.mesh.defaults.egress ?? null) : (spec.mesh.defaults.egress ?? null));
  const out: string[] = [];
  for (const s of ids) {
    const bs = b.get(s);
    const hs = h.get(s);
    if (scopeText(bs, base) !== scopeText(hs, head)) {
      out.push(s);
      continue;
    }
    const scope = egressMatcher(hs ? (hs.egress ?? head.mesh.defaults.egress) : head.mesh.defaults.egress);
    const ns = s.slice(0, s.indexOf('/'));
    const own = (e: ServiceEntry | undefined): string | null => {
      if (!e) return null;
      if (!scope.allows(s)) return text(asSelf(e));
      return text(cached(e, 'self-in-scope', () => ({ ...asCallee(e, ns), authorization: e.authorization, rateLimits: e.rateLimits })));
    };
    let touched = own(bs) !== own(hs);
    for (const c of changed) {
      if (touched) break;
      if (c === s) continue;
      const bc = b.get(c);
      const hc = h.get(c);
      if (scope.allows(c)) {
        touched = text(bc && asCallee(bc, ns)) !== text(hc && asCallee(hc, ns));
        continue;
      }
      if (text(bc && asBackend(bc)) === text(hc && asBackend(hc))) continue;
      const r = reachers.get(c);
      const via = r ? [...r.producer, ...(r.consumers.get(ns) ?? [])] : [];
      touched = via.some((x) => scope.allows(x));
    }
    if (touched) out.push(s);
  }
  return out;
}
