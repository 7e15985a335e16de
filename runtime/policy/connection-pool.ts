import type { BackendPolicySettings } from '../../schemas/bundle.js';

/** PoolLimits is the lowered `connectionPool` of a BackendPolicy; null means unlimited. */
export type PoolLimits = NonNullable<BackendPolicySettings['connectionPool']>;

/** Lease is one admitted request; `release` is idempotent and must be called exactly when it ends. */
export interface Lease {
  release(): void;
}

/**
 * AcquireResult is data, not an exception: overflow is an expected answer under load, and the
 * caller turns it into a 503 with a reason header.
 * - `pool-overflow`: maxConnections in flight and maxPendingRequests already waiting;
 * - `aborted`: the request gave up (timeout, client gone) while waiting.
 */
export type AcquireResult = { ok: true; lease: Lease } | { ok: false; reason: 'pool-overflow' | 'aborted' };

interface Waiter {
  resolve: (r: AcquireResult) => void;
  done: boolean;
  onAbort: (() => void) | null;
  signal: AbortSignal | null;
}

const REJECT_OVERFLOW: AcquireResult = Object.freeze({ ok: false, reason: 'pool-overflow' }) as AcquireResult;
const REJECT_ABORTED: AcquireResult = Object.freeze({ ok: false, reason: 'aborted' }) as AcquireResult;

/**
 * EndpointLimiter bounds the requests in flight to one endpoint (maxConnections) and the requests
 * waiting for a slot (maxPendingRequests, FIFO). Beyond both, acquire answers `pool-overflow` at
 * once: the queue never grows past its bound. With no limits it admits everything but still
 * counts in-flight requests, which LeastRequest balancing reads.
 *
 * Invariants: inFlight <= maxConnections whenever limits are set (after a reload that lowers the
 * limit, existing requests finish but no new one starts until below it); pending <=
 * maxPendingRequests; a released slot goes to the oldest live waiter.
 */
export class EndpointLimiter {
  private active = 0;
  private queue: Waiter[] = [];
  private head = 0;
  private waiting = 0;

  constructor(private limits: PoolLimits | null) {}

  /** inFlight is the number of admitted requests not yet released. */
  get inFlight(): number {
    return this.active;
  }

  /** pending is the number of requests waiting for a slot. */
  get pending(): number {
    return this.waiting;
  }

  /** setLimits applies a new bundle's limits, keeping counts; raised limits admit waiters now. */
  setLimits(limits: PoolLimits | null): void {
    this.limits = limits;
    this.drain();
  }

  /**
   * tryAcquire admits the request now or returns null (full, or others are already waiting:
   * jumping the queue would starve them).
   */
  tryAcquire(): Lease | null {
    const limits = this.limits;
    if (limits !== null && (this.active >= limits.maxConnections || this.waiting > 0)) return null;
    this.active++;
    return this.lease();
  }

  /** acquire admits now, waits in the bounded queue, or rejects at once with `pool-overflow`. */
  acquire(signal?: AbortSignal): Promise<AcquireResult> {
    const lease = this.tryAcquire();
    if (lease !== null) return Promise.resolve({ ok: true, lease });
    const limits = this.limits;
    if (limits === null || this.waiting >= limits.maxPendingRequests) return Promise.resolve(REJECT_OVERFLOW);
    if (signal?.aborted) return Promise.resolve(REJECT_ABORTED);
    return new Promise<AcquireResult>((resolve) => {
      const waiter: Waiter = { resolve, done: false, onAbort: null, signal: signal ?? null };
      if (signal) {
        waiter.onAbort = () => {
          if (waiter.done) return;
          waiter.done = true;
          this.waiting--;
          resolve(REJECT_ABORTED);
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.queue.push(waiter);
      this.waiting++;
    });
  }

  private lease(): Lease {
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.active--;
        this.drain();
      },
    };
  }

  /** drain hands free slots to live waiters, oldest first, and compacts the queue. */
  private drain(): void {
    while (this.waiting > 0 && (this.limits === null || this.active < this.limits.maxConnections)) {
      const w = this.queue[this.head];
      this.head++;
      if (w === undefined) break;
      if (w.done) continue;
      w.done = true;
      this.waiting--;
      if (w.signal && w.onAbort) w.signal.removeEventListener('abort', w.onAbort);
      this.active++;
      w.resolve({ ok: true, lease: this.lease() });
    }
    // Skip aborted waiters at the front, then compact so the array does not grow forever.
    while (this.head < this.queue.length && this.queue[this.head]?.done) this.head++;
    if (this.head > 0 && (this.head === this.queue.length || this.head >= 1024)) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }
}

/**
 * ConnectionPools keeps one EndpointLimiter per endpoint key (`address:port`) for one backend
 * Service. Limiters outlive bundle reloads so that in-flight counts stay true while old and new
 * route tables overlap; `retain` forgets endpoints a new bundle removed once they are idle.
 */
export class ConnectionPools {
  private readonly limiters = new Map<string, EndpointLimiter>();

  constructor(private limits: PoolLimits | null) {}

  /** limiter returns the endpoint's limiter, creating it with the current limits. */
  limiter(endpointKey: string): EndpointLimiter {
    let l = this.limiters.get(endpointKey);
    if (l === undefined) {
      l = new EndpointLimiter(this.limits);
      this.limiters.set(endpointKey, l);
    }
    return l;
  }

  /** inFlight is the in-flight count of an endpoint (0 if never used). */
  inFlight(endpointKey: string): number {
    return this.limiters.get(endpointKey)?.inFlight ?? 0;
  }

  /** update applies new limits and drops idle limiters of endpoints not in `endpointKeys`. */
  update(limits: PoolLimits | null, endpointKeys: Iterable<string>): void {
    this.limits = limits;
    const keep = new Set(endpointKeys);
    for (const [key, l] of this.limiters) {
      if (!keep.has(key) && l.inFlight === 0 && l.pending === 0) this.limiters.delete(key);
      else l.setLimits(limits);
    }
  }

  /** snapshot reports every endpoint's counts, for /config. */
  snapshot(): { endpoint: string; inFlight: number; pending: number }[] {
    return [...this.limiters].map(([endpoint, l]) => ({ endpoint, inFlight: l.inFlight, pending: l.pending }));
  }
}
