import type { Endpoint, ServiceEntry } from '../../schemas/bundle.js';
import type { EndpointPicker } from './balancer.js';
import type { Exchange } from './pipeline.js';
import { hashKeyFor } from '../policy/consistent-hash.js';
import type { PolicyRuntime } from '../policy/policy-runtime.js';

/**
 * PolicyPicker is the EndpointPicker that applies a backend's BackendPolicy: its load-balancing
 * algorithm over endpoints not ejected by outlier detection. When every endpoint is ejected
 * (only possible with maxEjectionPercent 100) it ignores ejections rather than fail: a degraded
 * endpoint beats none (Envoy's panic mode).
 */
export class PolicyPicker implements EndpointPicker {
  constructor(private readonly runtime: PolicyRuntime) {}

  pick(ex: Exchange, service: ServiceEntry): Endpoint | null {
    if (service.endpoints.length === 0) return null;
    const b = this.runtime.forRouter(ex.router).backend(service);
    const hashKey = b.hashOn === null ? null : hashKeyFor(b.hashOn, ex.headers, ex.clientAddress);
    let i = b.balancer.pick({ eligible: b.eligible, hashKey });
    if (i < 0) i = b.balancer.pick({ hashKey });
    return service.endpoints[i] ?? null;
  }
}
