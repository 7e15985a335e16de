import type { Endpoint, ServiceEntry } from '../../schemas/bundle.js';
import type { Exchange } from './pipeline.js';

/**
 * EndpointPicker chooses which endpoint of a backend Service an attempt goes to. The default is
 * round-robin; the policy steps (load balancing, outlier detection) install others per request by
 * assigning `ex.picker`. `pick` runs once per attempt, so a retry may go to another endpoint.
 */
export interface EndpointPicker {
  /** Returns an endpoint of `service`, or null when none is available (the request gets 503). */
  pick(ex: Exchange, service: ServiceEntry): Endpoint | null;
  /** Optional: told when an attempt to `endpoint` ended (status, or 0 for a connection failure). */
  release?(ex: Exchange, endpoint: Endpoint, status: number): void;
}

/**
 * RoundRobinPicker cycles through a Service's endpoints. Counters live per Service id and survive
 * reloads (the endpoint list may change; the counter is taken modulo its new length).
 */
export class RoundRobinPicker implements EndpointPicker {
  private readonly next = new Map<string, number>();

  pick(_ex: Exchange, service: ServiceEntry): Endpoint | null {
    const eps = service.endpoints;
    if (eps.length === 0) return null;
    if (eps.length === 1) return eps[0]!;
    const n = this.next.get(service.id) ?? 0;
    this.next.set(service.id, (n + 1) % 1_000_000_007);
    return eps[n % eps.length]!;
  }
}
