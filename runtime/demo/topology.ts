/**
 * The demo mesh's instances: which apps run, which sidecar fronts each, and whom they call.
 * Inbound ports are not here: they come from the Service endpoints written in the demo
 * repository (the policies are the source of truth; the seed may have moved them).
 */
import type { AppCall } from './apps.js';
import type { DeclaredEndpoint } from './service-endpoints.js';
import { DemoError } from './errors.js';

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
 * inboundPorts maps each instance to the port of its Service's endpoint, as the repository
 * declares it. Throws DemoError naming what is missing, so a hand-edited repository that lost
 * a Service gets a clear message instead of a half-started mesh.
 */
export function inboundPorts(endpoints: readonly DeclaredEndpoint[]): Map<string, number> {
  const out = new Map<string, number>();
  const missing: string[] = [];
  for (const inst of INSTANCES) {
    const ep = endpoints.find((e) => e.service === inst.name);
    if (!ep) missing.push(inst.name);
    else out.set(inst.name, ep.port);
  }
  if (missing.length > 0) {
    throw new DemoError(`the demo repository declares no endpoint for Service ${missing.join(', ')} (remove .weft/demo to reseed it from policies/)`);
  }
  return out;
}
