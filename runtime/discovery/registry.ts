import type { EndpointProvider } from './provider.js';
import { LEASE_MS, serviceIdOf, type DiscoveredEndpoint } from './protocol.js';

/** Registrant is who registers: the Service named by its client certificate (or, insecure, its request). */
export interface Registrant {
  service: string;
  namespace: string;
}

/** Registration is one leased instance, as `/v1/status` lists it. */
export interface Registration {
  readonly serviceId: string;
  readonly endpoint: DiscoveredEndpoint;
  /** Epoch ms of the first registration and of the last renewal. */
  readonly registeredAt: number;
  readonly renewedAt: number;
}

/** RegistryOptions: the lease (default LEASE_MS), a clock (tests), and the bound on instances. */
export interface RegistryOptions {
  leaseMs?: number;
  now?: () => number;
  /** Most instances held in total (default 50,000); a registration beyond it is refused. */
  maxInstances?: number;
  /** Most instances one Service may hold (default 5,000). */
  maxPerService?: number;
}

/** RegisterResult says whether a registration changed what callers see. */
export type RegisterResult = { ok: true; changed: boolean } | { ok: false; reason: string };

/**
 * InstanceRegistry holds registrations in memory on a lease: an instance that stops renewing
 * leaves after `leaseMs`. It is an EndpointProvider: it tells subscribers which Services changed,
 * and only when something a caller sees changed (a renewal alone is silent).
 *
 * Invariants: one registration per (Service, address, port), so an instance restarted at the same
 * address replaces its predecessor at once; a Service only ever holds what a registrant of that
 * Service registered; the table is bounded in total and per Service.
 */
export class InstanceRegistry implements EndpointProvider {
  readonly name = 'registration';
  readonly leaseMs: number;
  private readonly now: () => number;
  private readonly maxInstances: number;
  private readonly maxPerService: number;
  /** serviceId → endpoint key → registration. */
  private readonly byService = new Map<string, Map<string, Registration>>();
  private count = 0;
  private readonly listeners = new Set<(ids: readonly string[]) => void>();

  constructor(opts: RegistryOptions = {}) {
    this.leaseMs = opts.leaseMs ?? LEASE_MS;
    this.now = opts.now ?? Date.now;
    this.maxInstances = opts.maxInstances ?? 50_000;
    this.maxPerService = opts.maxPerService ?? 5_000;
  }

  /** size is the number of registrations held. */
  get size(): number {
    return this.count;
  }

  /**
   * register creates or renews the lease of `registrant`'s instance at `endpoint.address:port`.
   * Subscribers hear of it when the instance is new or its labels, readiness or id changed.
   */
  register(registrant: Registrant, endpoint: Omit<DiscoveredEndpoint, 'meshed'>): RegisterResult {
    const id = serviceIdOf(registrant.service, registrant.namespace);
    const key = keyOf(endpoint.address, endpoint.port);
    let regs = this.byService.get(id);
    const prev = regs?.get(key);
    if (!prev) {
      if (this.count >= this.maxInstances) return { ok: false, reason: `the registry holds ${this.maxInstances} instances, its limit` };
      if ((regs?.size ?? 0) >= this.maxPerService) return { ok: false, reason: `service ${id} has ${this.maxPerService} instances, the limit per Service` };
    }
    const now = this.now();
    const ep: DiscoveredEndpoint = {
      address: endpoint.address,
      port: endpoint.port,
      labels: { ...endpoint.labels },
      ready: endpoint.ready,
      meshed: true,
      instance: endpoint.instance,
    };
    const changed = !prev || !sameEndpoint(prev.endpoint, ep);
    if (!regs) this.byService.set(id, (regs = new Map()));
    if (!prev) this.count++;
    regs.set(key, { serviceId: id, endpoint: changed ? ep : prev.endpoint, registeredAt: prev?.registeredAt ?? now, renewedAt: now });
    if (changed) this.emit([id]);
    return { ok: true, changed };
  }

  /** deregister ends the lease of `registrant`'s instance at address:port now; false when none. */
  deregister(registrant: Registrant, address: string, port: number): boolean {
    const id = serviceIdOf(registrant.service, registrant.namespace);
    if (!this.remove(id, keyOf(address, port))) return false;
    this.emit([id]);
    return true;
  }

  /** sweep drops every registration whose lease ran out; returns how many left. */
  sweep(): number {
    const cutoff = this.now() - this.leaseMs;
    const changed: string[] = [];
    let n = 0;
    for (const [id, regs] of this.byService) {
      let any = false;
      for (const [key, reg] of regs) {
        if (reg.renewedAt > cutoff) continue;
        this.remove(id, key);
        any = true;
        n++;
      }
      if (any) changed.push(id);
    }
    if (changed.length > 0) this.emit(changed);
    return n;
  }

  endpointsOf(serviceId: string): readonly DiscoveredEndpoint[] {
    const regs = this.byService.get(serviceId);
    return regs ? [...regs.values()].map((r) => r.endpoint) : [];
  }

  serviceIds(): Iterable<string> {
    return this.byService.keys();
  }

  /** registrations lists every lease (for `/v1/status`), by Service then address. */
  registrations(): Registration[] {
    const out: Registration[] = [];
    for (const regs of this.byService.values()) out.push(...regs.values());
    return out.sort((a, b) => cmp(a.serviceId, b.serviceId) || cmp(a.endpoint.address, b.endpoint.address) || a.endpoint.port - b.endpoint.port);
  }

  subscribe(onChange: (serviceIds: readonly string[]) => void): () => void {
    this.listeners.add(onChange);
    return () => this.listeners.delete(onChange);
  }

  private remove(id: string, key: string): boolean {
    const regs = this.byService.get(id);
    if (!regs?.delete(key)) return false;
    this.count--;
    if (regs.size === 0) this.byService.delete(id);
    return true;
  }

  private emit(ids: readonly string[]): void {
    for (const l of this.listeners) l(ids);
  }
}

function keyOf(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

function sameEndpoint(a: DiscoveredEndpoint, b: DiscoveredEndpoint): boolean {
  if (a.ready !== b.ready || a.instance !== b.instance) return false;
  const ka = Object.keys(a.labels);
  if (ka.length !== Object.keys(b.labels).length) return false;
  return ka.every((k) => a.labels[k] === b.labels[k]);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
