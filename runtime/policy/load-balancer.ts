import type { BackendPolicySettings } from '../../schemas/bundle.js';
import { ConsistentHashBalancer } from './consistent-hash.js';
import { LeastRequestBalancer } from './least-request.js';
import { defaultRandom, type RandomSource } from './random.js';
import { RandomBalancer } from './random-balancer.js';
import { RoundRobinBalancer } from './round-robin.js';

/** LoadBalancerSettings is the lowered `loadBalancer` of a BackendPolicy. */
export type LoadBalancerSettings = BackendPolicySettings['loadBalancer'];

/** PickOptions carries what one request contributes to the choice. */
export interface PickOptions {
  /**
   * Endpoints for which this returns false are skipped (ejected by outlier detection, say).
   * Absent: every endpoint is eligible.
   */
  eligible?: (index: number) => boolean;
  /** Consistent-hash key for this request (see hashKeyFor); null or absent: no key. */
  hashKey?: string | null;
}

/**
 * LoadBalancer chooses one endpoint of a fixed list. A balancer is built once per endpoint list
 * (per bundle, per Service) and then only picks, so the request path does no allocation-heavy
 * work. `pick` returns an index into that list, or -1 when the list is empty or nothing is
 * eligible; it never throws.
 */
export interface LoadBalancer {
  readonly type: LoadBalancerSettings['type'];
  pick(options?: PickOptions): number;
}

/** LoadBalancerDeps are the balancer's inputs from outside the policy. */
export interface LoadBalancerDeps {
  /** Draws for Random and LeastRequest (and keyless ConsistentHash); Math.random by default. */
  random?: RandomSource;
  /** Requests in flight to endpoint `index`, for LeastRequest; 0 for all when absent. */
  inFlight?: (index: number) => number;
}

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
