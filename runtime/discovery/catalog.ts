import { createHash } from 'node:crypto';
import { LongPollHub } from '../controller/long-poll.js';
import type { EndpointProvider } from './provider.js';
import type { DiscoveredEndpoint, EndpointSet } from './protocol.js';

/** EndpointWaiter is what a held `GET /v1/endpoints` carries: the Services it asked about. */
export interface EndpointWaiter {
  readonly services: ReadonlySet<string>;
}

/** CatalogOptions: the providers merged, and how long to warm (0: sets are complete at once). */
export interface CatalogOptions {
  providers: readonly EndpointProvider[];
  /** Long-poll expiry granularity in ms (default 250). */
  tickMs?: number;
  now?: () => number;
}

/**
 * EndpointCatalog is the controller's view of every Service's instances: the union of its
 * providers, one EndpointSet per Service with a content-hash version, and the long-poll hub of
 * `GET /v1/endpoints`. A change to one Service wakes only the polls that named it.
 *
 * Warming (Consul's approach): after a controller restart the registry is empty until every
 * instance's next heartbeat. For one lease after `warm()` sets say `complete: false`, and a proxy
 * then adds what it is told without removing what it knew, so a restart never empties a Service.
 * The end of warming is itself a change (every set becomes complete), and wakes every poll.
 */
export class EndpointCatalog {
  readonly hub: LongPollHub<EndpointWaiter>;
  private readonly providers: readonly EndpointProvider[];
  private readonly now: () => number;
  private readonly cache = new Map<string, EndpointSet>();
  private readonly unsubscribe: (() => void)[];
  private warmUntil = 0;
  private pendingWarmMs = 0;
  private warmTimer: NodeJS.Timeout | null = null;
  /** Count of set changes published (metrics, tests). */
  changes = 0;

  constructor(opts: CatalogOptions) {
    this.providers = opts.providers;
    this.now = opts.now ?? Date.now;
    this.hub = new LongPollHub<EndpointWaiter>(opts.tickMs ?? 250);
    this.unsubscribe = this.providers.map((p) => p.subscribe((ids) => this.changed(ids)));
  }

  /** warming is true while sets are served as incomplete (see above). */
  get warming(): boolean {
    return this.pendingWarmMs > 0 || this.now() < this.warmUntil;
  }

  /**
   * warm arms a warming period of `ms` (a controller that restarted calls it with one lease). It
   * starts at the first discovery request (`touch`), not now: a controller still opening its
   * repository or binding its listener hears from no instance, so that time must not count.
   */
  warm(ms: number): void {
    if (ms <= 0) return;
    this.pendingWarmMs = ms;
    this.cache.clear();
  }

  /** touch is called on every discovery request: it starts an armed warming period. */
  touch(): void {
    if (this.pendingWarmMs <= 0) return;
    const ms = this.pendingWarmMs;
    this.pendingWarmMs = 0;
    this.warmUntil = this.now() + ms;
    this.cache.clear();
    if (this.warmTimer) clearTimeout(this.warmTimer);
    this.warmTimer = setTimeout(() => {
      this.warmTimer = null;
      // Timers run on the monotonic clock and may fire a hair before Date.now() passes warmUntil.
      this.warmUntil = 0;
      this.cache.clear();
      this.changes++;
      this.hub.wake();
    }, ms);
    this.warmTimer.unref();
  }

  /** set is a Service's current EndpointSet (`namespace/name`); empty and complete when it has no instances. */
  set(serviceId: string): EndpointSet {
    let s = this.cache.get(serviceId);
    if (s === undefined) {
      s = this.build(serviceId);
      this.cache.set(serviceId, s);
    }
    return s;
  }

  /** serviceIds lists every Service with at least one instance, sorted. */
  serviceIds(): string[] {
    const ids = new Set<string>();
    for (const p of this.providers) for (const id of p.serviceIds()) ids.add(id);
    return [...ids].sort();
  }

  /** changed drops the cached sets of `ids` and wakes every poll that named one of them. */
  changed(ids: readonly string[]): void {
    const fresh = ids.filter((id) => {
      const before = this.cache.get(id);
      this.cache.delete(id);
      return before === undefined || before.version !== this.set(id).version;
    });
    if (fresh.length === 0) return;
    this.changes++;
    this.hub.wake((w) => fresh.some((id) => w.services.has(id)));
  }

  /** close answers every held poll and stops listening to the providers. */
  close(): void {
    if (this.warmTimer) clearTimeout(this.warmTimer);
    for (const u of this.unsubscribe) u();
    this.hub.close();
  }

  private build(serviceId: string): EndpointSet {
    const byKey = new Map<string, DiscoveredEndpoint>();
    // Providers are listed by precedence: the first to name an address:port wins.
    for (const p of this.providers) {
      for (const e of p.endpointsOf(serviceId)) {
        const key = `${e.address} ${e.port}`;
        if (!byKey.has(key)) byKey.set(key, e);
      }
    }
    const endpoints = [...byKey.values()].sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : a.port - b.port));
    const complete = !this.warming;
    return { service: serviceId, version: versionOf(serviceId, complete, endpoints), complete, endpoints };
  }
}

/**
 * versionOf is the content hash of a set (first 20 hex digits of a sha256 over its canonical
 * JSON): the same set always has the same version, so a proxy's ETag survives a controller
 * restart that changed nothing.
 */
export function versionOf(serviceId: string, complete: boolean, endpoints: readonly DiscoveredEndpoint[]): string {
  const canon = endpoints.map((e) => [e.address, e.port, e.ready, e.instance, Object.keys(e.labels).sort().map((k) => [k, e.labels[k]])]);
  return createHash('sha256').update(JSON.stringify([serviceId, complete, canon])).digest('hex').slice(0, 20);
}
