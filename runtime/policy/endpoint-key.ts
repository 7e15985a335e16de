import type { Endpoint } from '../../schemas/bundle.js';

/**
 * endpointKey is the stable key of an endpoint (`address:port`; IPv6 in brackets): connection
 * pools, outlier detection, pool limits and balancers key their per-endpoint state by it, so that
 * state survives reloads that keep the endpoint.
 */
export function endpointKey(e: Endpoint): string {
  // Asked several times per request (pool, limits, outlier detection): made once per endpoint object.
  let k = KEYS.get(e);
  if (k === undefined) {
    k = e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
    KEYS.set(e, k);
  }
  return k;
}

/** KEYS: endpoint objects (the bundle's, discovery's) and their keys; endpoints are never edited in place. */
const KEYS = new WeakMap<Endpoint, string>();
