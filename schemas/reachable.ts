/**
 * Reach: the Services one Service's proxies can send to, given a bundle. One definition shared by
 * the compiler (what a slice keeps), the controller (whose endpoint sets a caller may read) and
 * the proxy (whose endpoint sets it follows), so the three never disagree.
 *
 * A proxy of Service S reaches:
 *  - every Service in S's egress scope (its entry's `egress`, else the mesh default, else `*\/*`),
 *    through the tables S's callers use there: the producer table and the consumer table of S's
 *    namespace (other namespaces' consumer tables never apply to a caller in S's namespace);
 *  - every Service those tables forward or mirror to. A backend's own routes apply only when it
 *    is called by name, which needs it in scope, so the closure ends one hop after the scope;
 *  - S itself (its inbound side), when S is in the bundle.
 */
import type { BundleSpec, Filter, RouteTable, Routing } from './bundle.js';
import { egressMatcher, type EgressMatcher } from './egress.js';

/** Reach is what `reachOf` answers: the scope's matcher and every Service id reached. */
export interface Reach {
  /** The caller's egress scope (in-scope Services are called by name; the rest only forwarded to). */
  readonly scope: EgressMatcher;
  /** Ids (`namespace/name`) of the Services of the bundle that the caller reaches, itself included. */
  readonly ids: ReadonlySet<string>;
}

function tablesFor(routing: Routing, callerNs: string): RouteTable[] {
  const out: RouteTable[] = [];
  if (routing.producer) out.push(routing.producer);
  const own = routing.consumers[callerNs];
  if (own) out.push(own);
  return out;
}

function addMirrors(filters: readonly Filter[], into: Set<string>): void {
  for (const f of filters) if (f.type === 'RequestMirror') into.add(f.mirror.service);
}

/**
 * reachOf answers the Services that proxies of `service` (`namespace/name`) reach in `spec`; see
 * the file comment. A Service not in the bundle gets the mesh default scope. Only ids of Services
 * present in the bundle are returned. O(Services + rules in scope); callers cache it per bundle.
 */
export function reachOf(spec: BundleSpec, service: string): Reach {
  const self = spec.services.find((e) => e.id === service);
  const callerNs = service.slice(0, service.indexOf('/'));
  const scope = egressMatcher(self ? (self.egress ?? spec.mesh.defaults.egress) : spec.mesh.defaults.egress);
  const named = new Set<string>();
  const reached = new Set<string>();
  for (const e of spec.services) {
    if (!scope.allows(e.id)) continue;
    named.add(e.id);
    for (const t of tablesFor(e.routing, callerNs)) {
      for (const r of t.rules) {
        addMirrors(r.filters, reached);
        for (const b of r.backends) {
          reached.add(b.service);
          addMirrors(b.filters, reached);
        }
      }
    }
  }
  if (self) named.add(service);
  const ids = new Set<string>();
  for (const e of spec.services) if (named.has(e.id) || reached.has(e.id)) ids.add(e.id);
  return { scope, ids };
}
