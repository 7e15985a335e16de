/**
 * Traffic samples: what the demo's traffic generator saw, one sample per wall-clock second.
 * The same shape is posted to the controller (`POST /v1/traffic`) and drawn by the dashboard.
 */

/** TrafficSample counts the requests that completed in one second. */
export interface TrafficSample {
  /** Start of the second, epoch milliseconds. */
  t: number;
  requests: number;
  /** Non-2xx answers and transport failures. */
  errors: number;
  /** Completed requests per reviews instance that served them (`reviews-v1` ...). */
  backends: Record<string, number>;
}

/** TrafficSummary is a few seconds of samples folded together (for the terminal view, tests). */
export interface TrafficSummary {
  seconds: number;
  requests: number;
  errors: number;
  /** Requests per second over the window. */
  rate: number;
  errorRate: number;
  backends: Record<string, number>;
  /** Share of each backend among answered requests, 0..1. */
  shares: Record<string, number>;
}

/** summarize folds `samples` (any order) into one TrafficSummary. */
export function summarize(samples: readonly TrafficSample[]): TrafficSummary {
  const backends: Record<string, number> = {};
  let requests = 0;
  let errors = 0;
  for (const s of samples) {
    requests += s.requests;
    errors += s.errors;
    for (const [k, v] of Object.entries(s.backends)) backends[k] = (backends[k] ?? 0) + v;
  }
  const served = Object.values(backends).reduce((a, b) => a + b, 0);
  const shares: Record<string, number> = {};
  for (const [k, v] of Object.entries(backends)) shares[k] = served > 0 ? v / served : 0;
  const seconds = samples.length;
  return { seconds, requests, errors, rate: seconds > 0 ? requests / seconds : 0, errorRate: requests > 0 ? errors / requests : 0, backends, shares };
}

/** TrafficWindow keeps the newest `capacity` per-second samples. */
export class TrafficWindow {
  private readonly buckets = new Map<number, TrafficSample>();
  constructor(private readonly capacity = 120) {}

  /** record counts one completed request at `now`. */
  record(now: number, ok: boolean, backend: string | null): void {
    const t = Math.floor(now / 1000) * 1000;
    let s = this.buckets.get(t);
    if (!s) {
      s = { t, requests: 0, errors: 0, backends: {} };
      this.buckets.set(t, s);
      this.trim();
    }
    s.requests++;
    if (!ok) s.errors++;
    if (backend !== null) s.backends[backend] = (s.backends[backend] ?? 0) + 1;
  }

  /** complete returns the finished seconds (strictly before the current one), oldest first. */
  complete(now: number = Date.now()): TrafficSample[] {
    const current = Math.floor(now / 1000) * 1000;
    return [...this.buckets.values()].filter((s) => s.t < current).sort((a, b) => a.t - b.t);
  }

  /** last returns the newest `n` finished seconds. */
  last(n: number, now: number = Date.now()): TrafficSample[] {
    return this.complete(now).slice(-n);
  }

  private trim(): void {
    while (this.buckets.size > this.capacity) {
      const oldest = Math.min(...this.buckets.keys());
      this.buckets.delete(oldest);
    }
  }
}
