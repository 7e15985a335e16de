import type { Registry } from 'prom-client';
import type { Endpoint, Rule, ServiceEntry } from '../../schemas/bundle.js';
import type { Router } from '../router/index.js';
import { endpointKey } from './endpoint-key.js';
import type { Headers } from './headers.js';
import { monotonicClock, type Clock } from './clock.js';
import { ConnectionPools } from './connection-pool.js';
import { hashKeyFor, type HashOn } from './consistent-hash.js';
import { createLoadBalancer } from './create-load-balancer.js';
import type { LoadBalancer } from './load-balancer.js';
import { OutlierDetector, type EndpointHealth } from './outlier-detector.js';
import { PolicyMetrics } from './policy-metrics.js';
import type { RandomSource } from './random.js';
import { RateLimitState, type RateLimiter } from './rate-limiter.js';
import { RetryBudget } from './retry-budget.js';

/**
 * BackendState is what one proxy remembers about one backend Service across bundle reloads:
 * per-endpoint pool counts, outlier state and the retry budget's window. Settings come from the
 * newest bundle; counts and ejections carry over for endpoints that persist.
 */
export class BackendState {
  readonly pools: ConnectionPools;
  outlier: OutlierDetector | null = null;
  readonly budget: RetryBudget;

  constructor(
    readonly serviceId: string,
    entry: ServiceEntry,
    private readonly clock: Clock,
    private readonly onEject: (service: string, endpoint: string) => void,
  ) {
    this.pools = new ConnectionPools(entry.backendPolicy.connectionPool);
    this.budget = new RetryBudget(entry.backendPolicy.retryBudget, clock);
    this.apply(entry, entry.endpoints.map(endpointKey));
  }

  /**
   * apply takes a newer bundle's settings and the Service's endpoint keys now (git's plus
   * discovered ones): state of endpoints that stay is kept, so an instance joining or leaving
   * resets no other endpoint's counters or ejections.
   */
  apply(entry: ServiceEntry, keys: readonly string[]): void {
    const p = entry.backendPolicy;
    this.pools.update(p.connectionPool, keys);
    this.budget.setSettings(p.retryBudget);
    if (p.outlierDetection === null) {
      this.outlier = null;
    } else if (this.outlier === null) {
      this.outlier = new OutlierDetector(p.outlierDetection, this.clock, keys, (endpoint) => this.onEject(this.serviceId, endpoint));
    } else {
      this.outlier.setSettings(p.outlierDetection);
      this.outlier.setEndpoints(keys);
    }
  }
}

/** CompiledBackend is a backend Service as one bundle describes it, ready for picks. */
export interface CompiledBackend {
  readonly state: BackendState;
  readonly entry: ServiceEntry;
  /** The endpoints picks index into: the bundle's, plus discovered ones (EndpointTable). */
  readonly endpoints: readonly Endpoint[];
  /** endpointKey of each endpoint, in `endpoints` order. */
  readonly keys: readonly string[];
  readonly balancer: LoadBalancer;
  /** Skips ejected endpoints; undefined when outlier detection is off. */
  readonly eligible: ((index: number) => boolean) | undefined;
  /** Set for ConsistentHash. */
  readonly hashOn: HashOn | null;
}

/** PickRequest is what a request contributes to an endpoint choice (ConsistentHash keys). */
export interface PickRequest {
  readonly headers: Readonly<Headers>;
  readonly clientAddress: string;
  /** The request's authority (what a hashOn `host` header hashes). */
  readonly authority?: string;
}

/**
 * RouterPolicies is the policy view of one route table (one bundle), built on first use and
 * never changed: rate limiters per Service (inbound) and per rule (outbound), and backends
 * compiled lazily on their first pick.
 */
export class RouterPolicies {
  private readonly backends = new Map<string, CompiledBackend>();

  constructor(
    private readonly runtime: PolicyRuntime,
    /** Whether this table was the active one when first seen: only then may it change shared state. */
    private readonly current: boolean,
    /** key: Service id. */
    readonly serviceLimits: ReadonlyMap<string, RateLimiter>,
    /** key: rule id. */
    readonly ruleLimits: ReadonlyMap<string, RateLimiter>,
  ) {}

  /**
   * pickEndpoint applies `entry`'s BackendPolicy to one request: its load-balancing algorithm
   * (ConsistentHash hashes the request's header or client address) over the endpoints outlier
   * detection has not ejected. When every endpoint is ejected (only possible with
   * maxEjectionPercent 100) it ignores ejections rather than fail: a degraded endpoint beats none
   * (Envoy's panic mode). Null when the Service has no endpoints. Attempts and mirrored requests
   * both pick here, so both follow the policy. `endpoints` is the Service's endpoints now (git's
   * plus discovered ready ones, from the proxy's EndpointTable; default: the bundle's).
   */
  pickEndpoint(entry: ServiceEntry, request: PickRequest, endpoints: readonly Endpoint[] = entry.endpoints): Endpoint | null {
    if (endpoints.length === 0) return null;
    const b = this.backend(entry, endpoints);
    const hashKey = b.hashOn === null ? null : hashKeyFor(b.hashOn, request.headers, request.clientAddress, request.authority);
    let i = b.balancer.pick({ eligible: b.eligible, hashKey });
    if (i < 0) i = b.balancer.pick({ hashKey });
    return endpoints[i] ?? null;
  }

  /**
   * backend returns the compiled backend for a Service of this table over `endpoints` (the
   * Service's endpoints now), rebuilding its balancer when that list is a different object.
   * Without `endpoints`, whatever was compiled last (the per-Service state is the same).
   */
  backend(entry: ServiceEntry, endpoints?: readonly Endpoint[]): CompiledBackend {
    let b = this.backends.get(entry.id);
    if (b === undefined || b.entry !== entry || (endpoints !== undefined && b.endpoints !== endpoints)) {
      b = this.runtime.compileBackend(entry, this.current, endpoints ?? b?.endpoints ?? entry.endpoints);
      this.backends.set(entry.id, b);
    }
    return b;
  }
}

/** PolicySnapshot is the policy state shown in `/config`. */
export interface PolicySnapshot {
  /** key: backend Service id. */
  backends: Record<string, { outlier: EndpointHealth[] | null; pools: { endpoint: string; inFlight: number; pending: number }[]; retryBudget: { requests: number; retries: number; retriesLastSecond: number } }>;
  rateLimitTables: { inbound: number; outbound: number };
}

/** PolicyRuntimeOptions are the runtime's inputs; all but the registry have defaults. */
export interface PolicyRuntimeOptions {
  registry: Registry;
  random: RandomSource;
  /** Returns the active route table, so only the newest bundle changes shared settings. */
  activeRouter: () => Router | null;
  clock?: Clock;
}

/**
 * PolicyRuntime is one proxy's traffic-policy state: per backend Service state that survives
 * reloads, per-table policy views, rate-limit buckets (inbound and outbound kept apart, so one
 * policy targeting both a Service and a route never shares buckets across directions), and the
 * policy metrics. Settings are rebuilt from each new bundle on first use of its table; a table
 * that is not the active one (requests still finishing on an older bundle) reads shared state
 * but never rewrites it.
 */
export class PolicyRuntime {
  readonly metrics: PolicyMetrics;
  readonly clock: Clock;
  readonly random: RandomSource;
  private readonly backends = new Map<string, BackendState>();
  private readonly tables = new WeakMap<Router, RouterPolicies>();
  private readonly inbound: RateLimitState;
  private readonly outbound: RateLimitState;
  private readonly activeRouter: () => Router | null;

  constructor(opts: PolicyRuntimeOptions) {
    this.clock = opts.clock ?? monotonicClock;
    this.random = opts.random;
    this.activeRouter = opts.activeRouter;
    this.inbound = new RateLimitState(this.clock);
    this.outbound = new RateLimitState(this.clock);
    this.metrics = new PolicyMetrics(opts.registry, () => this.ejectionStates());
  }

  /** forRouter returns the policy view of a route table, building it on first use. */
  forRouter(router: Router): RouterPolicies {
    let p = this.tables.get(router);
    if (p === undefined) {
      p = this.build(router);
      this.tables.set(router, p);
    }
    return p;
  }

  /**
   * compileBackend builds a backend's balancer over `endpoints` (RouterPolicies calls it). The
   * ConsistentHash ring is placed by endpoint key, so only keys owned by a joining or leaving
   * endpoint move; least-request counts and ejections live in BackendState, keyed the same way.
   */
  compileBackend(entry: ServiceEntry, current: boolean, endpoints: readonly Endpoint[] = entry.endpoints): CompiledBackend {
    const keys = endpoints.map(endpointKey);
    let state = this.backends.get(entry.id);
    if (state === undefined) {
      state = new BackendState(entry.id, entry, this.clock, (service, endpoint) => this.metrics.ejections.inc({ service, endpoint }));
      state.apply(entry, keys);
      this.backends.set(entry.id, state);
    } else if (current) {
      state.apply(entry, keys);
    }
    const s = state;
    const balancer = createLoadBalancer(entry.backendPolicy.loadBalancer, keys, { random: this.random, inFlight: (i) => s.pools.inFlight(keys[i] ?? '') });
    const lb = entry.backendPolicy.loadBalancer;
    const eligible = entry.backendPolicy.outlierDetection === null ? undefined : (i: number) => !(s.outlier?.isEjected(keys[i] ?? '') ?? false);
    return { state, entry, endpoints, keys, balancer, eligible, hashOn: lb.type === 'ConsistentHash' ? lb.hashOn : null };
  }

  /** snapshot is the state for `/config`: outlier ejections, pool counts, retry budgets. */
  snapshot(): PolicySnapshot {
    const backends: PolicySnapshot['backends'] = {};
    for (const [id, s] of [...this.backends].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      backends[id] = { outlier: s.outlier?.snapshot() ?? null, pools: s.pools.snapshot(), retryBudget: s.budget.snapshot() };
    }
    return { backends, rateLimitTables: { inbound: this.inbound.tableCount, outbound: this.outbound.tableCount } };
  }

  private *ejectionStates(): Iterable<{ service: string; endpoint: string; ejected: boolean }> {
    for (const [service, s] of this.backends) {
      if (s.outlier === null) continue;
      for (const h of s.outlier.snapshot()) yield { service, endpoint: h.endpoint, ejected: h.ejected };
    }
  }

  private build(router: Router): RouterPolicies {
    const active = this.activeRouter();
    // A table first seen while not active is an older one still finishing requests (or a test
    // router with no active bundle): it gets limiters, but does not sweep or prune shared state.
    const current = active === null || active === router;
    const serviceLimits = new Map<string, RateLimiter>();
    const ruleLimits = new Map<string, RateLimiter>();
    for (const svc of router.services.values()) {
      const e = svc.entry;
      if (e.rateLimits.length > 0) serviceLimits.set(e.id, this.inbound.limiter(e.rateLimits));
      for (const rule of rulesOf(e)) if (rule.rateLimits.length > 0 && !ruleLimits.has(rule.id)) ruleLimits.set(rule.id, this.outbound.limiter(rule.rateLimits));
    }
    if (current) {
      this.inbound.sweep();
      this.outbound.sweep();
      for (const id of this.backends.keys()) if (!router.services.has(id)) this.backends.delete(id);
    }
    return new RouterPolicies(this, current, serviceLimits, ruleLimits);
  }
}

function* rulesOf(e: ServiceEntry): Iterable<Rule> {
  if (e.routing.producer) yield* e.routing.producer.rules;
  for (const t of Object.values(e.routing.consumers)) yield* t.rules;
}
