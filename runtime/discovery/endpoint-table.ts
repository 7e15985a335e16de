import type { Endpoint, ServiceEntry } from '../../schemas/bundle.js';
import type { DiscoveredEndpoint, EndpointSet } from './protocol.js';

/**
 * ServiceEndpoints is what a proxy may send a backend Service's traffic to right now. Immutable:
 * a change makes a new object, so balancers are rebuilt exactly when their input changes
 * (identity comparison), and per-endpoint state keyed by `address:port` carries over.
 */
export interface ServiceEndpoints {
  /**
   * `static`: only git's endpoints (no discovery, or nothing registered ever reached us);
   * `discovered`: a set from discovery is known (it may be empty);
   * `unknown`: discovery is on, no set has arrived for this Service and git lists none.
   */
  readonly state: 'static' | 'discovered' | 'unknown';
  /** Endpoints callers may pick: git's static ones, then registered ready instances. */
  readonly endpoints: readonly Endpoint[];
  /** Registered instances that are not ready (failing their health probe): no traffic. */
  readonly notReady: number;
}

interface Known {
  /** The newest complete set; null until one arrives (the controller may be warming). */
  complete: readonly DiscoveredEndpoint[] | null;
  /** What callers use: the complete set, or, while the controller warms, complete ∪ newest. */
  effective: readonly DiscoveredEndpoint[];
  version: string;
  generation: number;
}

/**
 * EndpointTable is a proxy's discovered endpoints per backend Service, apart from the bundle
 * (docs/discovery.md): applying a set never touches the route table, and a Service's view is
 * rebuilt only when its own set changed.
 *
 * Invariants: sets are only replaced, never cleared, by the source (a controller outage keeps
 * the last known sets until the first answer after reconnecting); an incomplete set (controller
 * warming) removes nothing the last complete set had; static endpoints from git come first and
 * a registered instance at the same address:port is not listed twice.
 */
export class EndpointTable {
  private readonly sets = new Map<string, Known>();
  private readonly views = new WeakMap<ServiceEntry, { generation: number; view: ServiceEndpoints }>();
  private readonly listeners = new Set<(serviceIds: readonly string[]) => void>();
  private generation = 0;

  /** @param discovery false: a proxy without a controller; views are git's endpoints alone. */
  constructor(readonly discovery: boolean) {}

  /** versionOf is the version of the last set applied for a Service (the poll's If-None-Match). */
  versionOf(serviceId: string): string | undefined {
    return this.sets.get(serviceId)?.version;
  }

  /** apply takes sets from the endpoint source; returns the Services whose endpoints changed. */
  apply(sets: readonly EndpointSet[]): string[] {
    const changed: string[] = [];
    for (const set of sets) {
      const prev = this.sets.get(set.service);
      if (prev?.version === set.version) continue;
      const complete = set.complete ? set.endpoints : (prev?.complete ?? null);
      const effective = set.complete ? set.endpoints : union(prev?.complete ?? prev?.effective ?? [], set.endpoints);
      this.sets.set(set.service, { complete, effective, version: set.version, generation: ++this.generation });
      changed.push(set.service);
    }
    if (changed.length > 0) for (const l of this.listeners) l(changed);
    return changed;
  }

  /** subscribe hears which Services changed (metrics, tests); returns an unsubscribe. */
  subscribe(onChange: (serviceIds: readonly string[]) => void): () => void {
    this.listeners.add(onChange);
    return () => this.listeners.delete(onChange);
  }

  /** view is a Service's ServiceEndpoints for the bundle's entry; the same object until either changes. */
  view(entry: ServiceEntry): ServiceEndpoints {
    const known = this.discovery ? this.sets.get(entry.id) : undefined;
    const generation = known?.generation ?? 0;
    const cached = this.views.get(entry);
    if (cached !== undefined && cached.generation === generation) return cached.view;
    const view = this.build(entry, known);
    this.views.set(entry, { generation, view });
    return view;
  }

  /**
   * sets is the table as the endpoint stream would carry it (the endpoint cache's content): per
   * Service, the set callers use now, complete unless the controller was warming.
   */
  currentSets(): EndpointSet[] {
    return [...this.sets.keys()].sort().map((service) => {
      const k = this.sets.get(service)!;
      return { service, version: k.version, complete: k.complete === k.effective, endpoints: [...k.effective] };
    });
  }

  /** snapshot lists the discovered sets (for `/config`), by Service. */
  snapshot(): Record<string, { version: string; complete: boolean; endpoints: { address: string; port: number; ready: boolean }[] }> {
    const out: Record<string, { version: string; complete: boolean; endpoints: { address: string; port: number; ready: boolean }[] }> = {};
    for (const id of [...this.sets.keys()].sort()) {
      const k = this.sets.get(id)!;
      out[id] = { version: k.version, complete: k.complete === k.effective, endpoints: k.effective.map((e) => ({ address: e.address, port: e.port, ready: e.ready })) };
    }
    return out;
  }

  private build(entry: ServiceEntry, known: Known | undefined): ServiceEndpoints {
    if (!this.discovery) return Object.freeze({ state: 'static', endpoints: entry.endpoints, notReady: 0 });
    if (known === undefined) {
      return Object.freeze({ state: entry.endpoints.length > 0 ? 'static' : 'unknown', endpoints: entry.endpoints, notReady: 0 });
    }
    const seen = new Set(entry.endpoints.map((e) => `${e.address} ${e.port}`));
    const endpoints: Endpoint[] = [...entry.endpoints];
    let notReady = 0;
    for (const d of known.effective) {
      if (!d.ready) {
        notReady++;
        continue;
      }
      const key = `${d.address} ${d.port}`;
      if (seen.has(key)) continue;
      seen.add(key);
      endpoints.push(Object.freeze({ address: d.address, port: d.port, labels: d.labels, meshed: true as const }));
    }
    return Object.freeze({ state: 'discovered', endpoints: Object.freeze(endpoints), notReady });
  }
}

/** union is `base` with `newer`'s entries replacing or adding by address:port (newer readiness wins). */
function union(base: readonly DiscoveredEndpoint[], newer: readonly DiscoveredEndpoint[]): DiscoveredEndpoint[] {
  const m = new Map<string, DiscoveredEndpoint>();
  for (const e of base) m.set(`${e.address} ${e.port}`, e);
  for (const e of newer) m.set(`${e.address} ${e.port}`, e);
  return [...m.values()].sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : a.port - b.port));
}
