import type { Endpoint } from '../../schemas/bundle.js';

/**
 * endpointKey is the stable key of an endpoint (`address:port`; IPv6 in brackets): connection
 * pools, outlier detection, pool limits and balancers key their per-endpoint state by it, so that
 * state survives reloads that keep the endpoint.
 */
export function endpointKey(e: Endpoint): string {
  return e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}
