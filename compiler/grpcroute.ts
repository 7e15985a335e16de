/**
 * GRPCRoute lowering into the HTTPRoute shape, so both route kinds share resolve, analyze and
 * the precedence-ordered tables (one router, one proxy path). A gRPC call is an HTTP/2
 * `POST /<service>/<method>` (gRPC over HTTP/2, "Path"), so a GRPCRoute method match is a path
 * match:
 *
 *   Exact service + method   → Exact `/<service>/<method>`
 *   Exact service only       → PathPrefix `/<service>` (every method of the service)
 *   Exact method only        → RegularExpression `/[^/]+/<method>`
 *   RegularExpression        → RegularExpression `/(<service>|[^/]+)/(<method>|[^/]+)`
 *   no method match          → PathPrefix `/`
 *
 * Header matches, filters and backendRefs have the same shape in both kinds. Precedence among
 * GRPCRoute matches is the GRPCRoute spec's, not HTTPRoute's (compiler/precedence.ts uses
 * grpcRank): more characters in the matched service, then in the method, then more header
 * matches. GRPCRoutes and HTTPRoutes never share a table: on a Service port where both attach,
 * GRPCRoute wins (GEP-1294 route-type precedence) and the HTTPRoute is ignored (resolve.ts).
 */
import type { GRPCRoute, GRPCRouteAsHTTP, GRPCRouteMatch, HTTPRouteMatch, HTTPRouteRule } from './resources.js';

/** ANY_SEGMENT is an RE2 pattern for one path segment: a whole service or method name. */
const ANY_SEGMENT = '[^/]+';

/** methodPath is the path match one GRPCRoute method match selects (see the file comment). */
export function methodPath(m: GRPCRouteMatch['method']): HTTPRouteMatch['path'] {
  if (!m) return { type: 'PathPrefix', value: '/' };
  const service = m.service;
  const method = m.method;
  if ((m.type ?? 'Exact') === 'RegularExpression') {
    return { type: 'RegularExpression', value: `/(${service ?? ANY_SEGMENT})/(${method ?? ANY_SEGMENT})` };
  }
  if (service !== undefined && method !== undefined) return { type: 'Exact', value: `/${service}/${method}` };
  if (service !== undefined) return { type: 'PathPrefix', value: `/${service}` };
  return { type: 'RegularExpression', value: `/${ANY_SEGMENT}/${method ?? ANY_SEGMENT}` };
}

/** grpcRank is what GRPCRoute precedence compares: characters in the service, then in the method. */
export function grpcRank(m: GRPCRouteMatch | undefined): { service: number; method: number } {
  return { service: m?.method?.service?.length ?? 0, method: m?.method?.method?.length ?? 0 };
}

/** Shapes kept per GRPCRoute object: a resource never changes, and the incremental compiler needs the same shape object for an unchanged route. */
const shapes = new WeakMap<GRPCRoute, GRPCRouteAsHTTP>();

/**
 * asHttpShape returns the GRPCRoute in the HTTPRoute shape (same origin: positions still point at
 * what was written); the same object for the same route.
 */
export function asHttpShape(r: GRPCRoute): GRPCRouteAsHTTP {
  let shape = shapes.get(r);
  if (!shape) shapes.set(r, (shape = httpShape(r)));
  return shape;
}

function httpShape(r: GRPCRoute): GRPCRouteAsHTTP {
  const rules: HTTPRouteRule[] | undefined = r.spec.rules?.map((rule) => {
    const out: HTTPRouteRule = {};
    if (rule.name !== undefined) out.name = rule.name;
    if (rule.matches !== undefined) {
      out.matches = rule.matches.map((m) => {
        const hm: HTTPRouteMatch = { path: methodPath(m.method) };
        if (m.headers !== undefined) hm.headers = m.headers;
        return hm;
      });
    }
    if (rule.filters !== undefined) out.filters = rule.filters;
    if (rule.backendRefs !== undefined) out.backendRefs = rule.backendRefs;
    return out;
  });
  const spec: GRPCRouteAsHTTP['spec'] = {};
  if (r.spec.parentRefs !== undefined) spec.parentRefs = r.spec.parentRefs;
  if (r.spec.hostnames !== undefined) spec.hostnames = r.spec.hostnames;
  if (rules !== undefined) spec.rules = rules;
  return { apiVersion: r.apiVersion, kind: 'GRPCRoute', metadata: r.metadata, spec, origin: r.origin, grpc: r.spec };
}
