/**
 * TrafficStore keeps the per-second traffic samples the dashboard charts. The controller does
 * not see data-plane traffic itself; whoever does (today `weft up`'s traffic generator) posts
 * what it counted to `POST /v1/traffic`, and the dashboard reads `GET /v1/traffic`. Bounded:
 * the newest MAX_SAMPLES seconds, a few backends each, so a chatty or hostile poster cannot
 * grow the controller's memory.
 */

/** TrafficPoint is one second of traffic (the shape runtime/demo/traffic.ts produces). */
export interface TrafficPoint {
  /** Start of the second, epoch milliseconds. */
  t: number;
  requests: number;
  errors: number;
  /** Requests per backend that served them. */
  backends: Record<string, number>;
}

/** TrafficDocument is the body of `GET /v1/traffic` (and, minus updatedAt, of the POST). */
export interface TrafficDocument {
  source: string | null;
  /** ISO 8601 time of the last accepted post; null before any. */
  updatedAt: string | null;
  /** Oldest first. */
  samples: TrafficPoint[];
}

/** MAX_SAMPLES is how many seconds are kept (the chart shows the last minute). */
export const MAX_SAMPLES = 180;
/** MAX_BACKENDS bounds the keys of one sample's `backends`. */
export const MAX_BACKENDS = 16;

function count(v: unknown): number | null {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 1e9 ? v : null;
}

/** parseTrafficPost validates a POST body; null when it is not `{source?, samples: TrafficPoint[]}`. */
export function parseTrafficPost(value: unknown): { source: string | null; samples: TrafficPoint[] } | null {
  if (typeof value !== 'object' || value === null) return null;
  const v = value as { source?: unknown; samples?: unknown };
  if (!Array.isArray(v.samples) || v.samples.length > MAX_SAMPLES) return null;
  const samples: TrafficPoint[] = [];
  for (const s of v.samples as unknown[]) {
    if (typeof s !== 'object' || s === null) return null;
    const r = s as Record<string, unknown>;
    const t = typeof r.t === 'number' && Number.isSafeInteger(r.t) && r.t >= 0 ? r.t : null;
    const requests = count(r.requests);
    const errors = count(r.errors);
    if (t === null || requests === null || errors === null || typeof r.backends !== 'object' || r.backends === null) return null;
    const entries = Object.entries(r.backends as Record<string, unknown>);
    if (entries.length > MAX_BACKENDS) return null;
    const backends: Record<string, number> = {};
    for (const [k, n] of entries) {
      const c = count(n);
      if (c === null || k.length > 128) return null;
      backends[k] = c;
    }
    samples.push({ t, requests, errors, backends });
  }
  return { source: typeof v.source === 'string' ? v.source.slice(0, 128) : null, samples };
}

/** TrafficStore holds the newest samples by second; a repeated second replaces the older copy. */
export class TrafficStore {
  private readonly byT = new Map<number, TrafficPoint>();
  private source: string | null = null;
  private updatedAt: string | null = null;

  /** add merges posted samples (re-posting a second is fine: it replaces). */
  add(source: string | null, samples: readonly TrafficPoint[], now = new Date()): void {
    for (const s of samples) this.byT.set(s.t, s);
    if (this.byT.size > MAX_SAMPLES) {
      const keep = [...this.byT.keys()].sort((a, b) => a - b).slice(-MAX_SAMPLES);
      const keepSet = new Set(keep);
      for (const k of this.byT.keys()) if (!keepSet.has(k)) this.byT.delete(k);
    }
    this.source = source;
    this.updatedAt = now.toISOString();
  }

  /** document is what GET /v1/traffic answers. */
  document(): TrafficDocument {
    return { source: this.source, updatedAt: this.updatedAt, samples: [...this.byT.values()].sort((a, b) => a.t - b.t) };
  }
}
