import { EndpointCatalog } from './catalog.js';
import type { EndpointProvider } from './provider.js';
import { HEARTBEAT_MS, LEASE_MS } from './protocol.js';
import { InstanceRegistry, type Registration } from './registry.js';

/** DiscoveryOptions: lease and heartbeat (defaults LEASE_MS / HEARTBEAT_MS), extra providers. */
export interface DiscoveryOptions {
  leaseMs?: number;
  heartbeatMs?: number;
  /** Providers after the registry (a Kubernetes EndpointSlice watcher, say). */
  providers?: readonly EndpointProvider[];
  now?: () => number;
}

/** InstanceStatus is one registered instance as `/v1/status` lists it. */
export interface InstanceStatus {
  instance: string;
  address: string;
  port: number;
  labels: Record<string, string>;
  ready: boolean;
  /** Milliseconds since the last renewal, and since the first registration. */
  leaseAgeMs: number;
  registeredMs: number;
}

/** ServiceInstances is one Service's row in `/v1/status`. */
export interface ServiceInstances {
  service: string;
  version: string;
  ready: number;
  instances: InstanceStatus[];
}

/**
 * Discovery is the controller's half of service discovery: the lease registry, the catalog that
 * serves endpoint sets, and the sweep that expires leases (once a second, so an instance that
 * stopped heartbeating leaves between `leaseMs` and `leaseMs + 1 s` after its last renewal).
 */
export class Discovery {
  readonly registry: InstanceRegistry;
  readonly catalog: EndpointCatalog;
  readonly leaseMs: number;
  readonly heartbeatMs: number;
  private readonly now: () => number;
  private readonly sweeper: NodeJS.Timeout;

  constructor(opts: DiscoveryOptions = {}) {
    this.leaseMs = opts.leaseMs ?? LEASE_MS;
    this.heartbeatMs = opts.heartbeatMs ?? HEARTBEAT_MS;
    this.now = opts.now ?? Date.now;
    this.registry = new InstanceRegistry({ leaseMs: this.leaseMs, now: this.now });
    this.catalog = new EndpointCatalog({ providers: [this.registry, ...(opts.providers ?? [])], now: this.now });
    this.sweeper = setInterval(() => this.registry.sweep(), Math.min(1000, this.leaseMs / 4));
    this.sweeper.unref();
  }

  /** warm serves sets as incomplete for one lease: call it when the controller restarted. */
  warm(): void {
    this.catalog.warm(this.leaseMs);
  }

  /** status lists every Service with instances (sorted), each instance with readiness and lease age. */
  status(): { leaseMs: number; heartbeatMs: number; warming: boolean; services: ServiceInstances[] } {
    const now = this.now();
    const byService = new Map<string, Registration[]>();
    for (const r of this.registry.registrations()) {
      let list = byService.get(r.serviceId);
      if (!list) byService.set(r.serviceId, (list = []));
      list.push(r);
    }
    const services: ServiceInstances[] = [];
    for (const id of this.catalog.serviceIds()) {
      const set = this.catalog.set(id);
      const regs = new Map((byService.get(id) ?? []).map((r) => [`${r.endpoint.address} ${r.endpoint.port}`, r]));
      services.push({
        service: id,
        version: set.version,
        ready: set.endpoints.filter((e) => e.ready).length,
        instances: set.endpoints.map((e) => {
          const r = regs.get(`${e.address} ${e.port}`);
          return {
            instance: e.instance,
            address: e.address,
            port: e.port,
            labels: e.labels,
            ready: e.ready,
            leaseAgeMs: r ? now - r.renewedAt : 0,
            registeredMs: r ? now - r.registeredAt : 0,
          };
        }),
      });
    }
    return { leaseMs: this.leaseMs, heartbeatMs: this.heartbeatMs, warming: this.catalog.warming, services };
  }

  close(): void {
    clearInterval(this.sweeper);
    this.catalog.close();
  }
}
