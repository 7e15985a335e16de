import type { BackendPolicySettings } from '../../schemas/bundle.js';
import type { RandomSource } from './random.js';

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
