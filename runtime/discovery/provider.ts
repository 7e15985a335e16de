import type { DiscoveredEndpoint } from './protocol.js';

/**
 * EndpointProvider is where the controller learns about instances: today the lease registry
 * (proxies registering themselves, registry.ts); a Kubernetes EndpointSlice watcher or a Consul
 * catalog could be another. The EndpointCatalog merges every provider's instances per Service.
 */
export interface EndpointProvider {
  /** Short name for logs and `/v1/status`, e.g. `registration`. */
  readonly name: string;
  /** endpointsOf lists a Service's instances (`namespace/name`), any order; [] when none. */
  endpointsOf(serviceId: string): readonly DiscoveredEndpoint[];
  /** serviceIds lists every Service that has at least one instance. */
  serviceIds(): Iterable<string>;
  /** subscribe calls `onChange` with the Services whose instances changed; returns an unsubscribe. */
  subscribe(onChange: (serviceIds: readonly string[]) => void): () => void;
}
