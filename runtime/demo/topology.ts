/**
 * The demo mesh's instances: which apps run, which sidecar fronts each, and whom they call.
 * Inbound ports are not here: `weft up` picks free ones and each proxy registers its instance
 * with the controller (docs/discovery.md), unless the repository pins a Service's endpoint.
 */
import type { AppCall } from './apps.js';
import type { DeclaredEndpoint } from './service-endpoints.js';

/** Instance is one service instance: one app and one `weft proxy --service <proxyService>`. */
export interface Instance {
  /** Instance name, also the Service whose single endpoint is this instance (`reviews-v2`). */
  name: string;
  /** The name callers use (`reviews`). */
  service: string;
  version: string;
  /** Service identity of the sidecar: what `weft-source` says, what authorization checks. */
  proxyService: string;
  calls: AppCall[];
}

/** INSTANCES is the bookinfo-style demo, in start order (callees before callers). */
export const INSTANCES: readonly Instance[] = [
  { name: 'ratings', service: 'ratings', version: 'v1', proxyService: 'ratings', calls: [] },
  { name: 'details', service: 'details', version: 'v1', proxyService: 'details', calls: [] },
  { name: 'details-shadow', service: 'details', version: 'v2', proxyService: 'details-shadow', calls: [] },
  { name: 'reviews-v1', service: 'reviews', version: 'v1', proxyService: 'reviews-v1', calls: [] },
  { name: 'reviews-v2', service: 'reviews', version: 'v2', proxyService: 'reviews-v2', calls: [{ service: 'ratings', path: '/ratings/1' }] },
  { name: 'reviews-v3', service: 'reviews', version: 'v3', proxyService: 'reviews-v3', calls: [{ service: 'ratings', path: '/ratings/1' }] },
  {
    name: 'productpage',
    service: 'productpage',
    version: 'v1',
    proxyService: 'productpage',
    calls: [
      { service: 'details', path: '/details/1' },
      { service: 'reviews', path: '/reviews/1' },
    ],
  },
];

/** REVIEWS_BACKENDS are the instances the traffic split is shown for. */
export const REVIEWS_BACKENDS = ['reviews-v1', 'reviews-v2', 'reviews-v3'] as const;

/**
 * declaredInboundPorts maps each instance whose Service lists an endpoint in the repository to
 * that endpoint's port. The example policies list none (every instance registers itself on the
 * port `weft up` picks), but a repository seeded by an earlier Weft, or edited by hand, may: its
 * proxy then listens where the policy says, so the static endpoint and the registered one agree.
 */
export function declaredInboundPorts(endpoints: readonly DeclaredEndpoint[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const inst of INSTANCES) {
    const ep = endpoints.find((e) => e.service === inst.name);
    if (ep) out.set(inst.name, ep.port);
  }
  return out;
}

/** instanceByService finds the demo instance whose sidecar runs as `service` (`reviews-v2`), or null. */
export function instanceByService(service: string): Instance | null {
  return INSTANCES.find((i) => i.proxyService === service) ?? null;
}
