import { ConsistentHashBalancer } from './consistent-hash.js';
import { LeastRequestBalancer } from './least-request.js';
import type { LoadBalancer, LoadBalancerDeps, LoadBalancerSettings } from './load-balancer.js';
import { defaultRandom } from './random.js';
import { RandomBalancer } from './random-balancer.js';
import { RoundRobinBalancer } from './round-robin.js';

/**
 * createLoadBalancer builds the balancer a BackendPolicy asks for over `endpointKeys` (stable
 * endpoint identities such as `10.0.0.1:8080`; ConsistentHash places them on its ring by key, so
 * a key keeps its endpoint across reloads that keep the endpoint).
 */
export function createLoadBalancer(settings: LoadBalancerSettings, endpointKeys: readonly string[], deps: LoadBalancerDeps = {}): LoadBalancer {
  const random = deps.random ?? defaultRandom;
  switch (settings.type) {
    case 'RoundRobin':
      return new RoundRobinBalancer(endpointKeys.length);
    case 'Random':
      return new RandomBalancer(endpointKeys.length, random);
    case 'LeastRequest':
      return new LeastRequestBalancer(endpointKeys.length, deps.inFlight ?? (() => 0), random);
    case 'ConsistentHash':
      return new ConsistentHashBalancer(endpointKeys, random);
  }
}
