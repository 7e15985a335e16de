import type { BackendPolicySettings } from '../../schemas/bundle.js';
import type { Clock } from './clock.js';

/** OutlierSettings is the lowered `outlierDetection` of a BackendPolicy. */
export type OutlierSettings = NonNullable<BackendPolicySettings['outlierDetection']>;

/** MAX_EJECTION_MS caps base × times-ejected (as Envoy's max_ejection_time), unless base is larger. */
export const MAX_EJECTION_MS = 300_000;

/** EndpointHealth is one endpoint's outlier state, as /config and metrics show it. */
export interface EndpointHealth {
  endpoint: string;
  ejected: boolean;
  /** Clock time at which the endpoint returns; null when not ejected. */
  ejectedUntilMs: number | null;
  /** Ejections that still weigh on the next ejection's length (decays, see OutlierDetector). */
  timesEjected: number;
  consecutiveErrors: number;
  /** Ejections since the endpoint was first seen (monotonic; for metrics). */
  totalEjections: number;
}

interface State {
  consecutiveErrors: number;
  ejectedUntil: number;
  timesEjected: number;
  totalEjections: number;
}

/**
 * OutlierDetector ejects endpoints of one backend Service that fail `consecutiveErrors` times in
 * a row (5xx or connection error, as reported by the caller) for baseEjectionTime × times
 * ejected, capped at MAX_EJECTION_MS. Ejection keeps the ejected share within
 * maxEjectionPercent ((ejected + 1) × 100 ≤ maxEjectionPercent × endpoints), with one exception
 * taken from Envoy: when nothing is ejected, one endpoint of two or more may be, so a small
 * Service with the default 10% still sheds a broken endpoint. The last endpoint is never
 * ejected unless maxEjectionPercent is 100.
 *
 * There is no timer: return is decided lazily when the endpoint is next looked at, and the
 * times-ejected multiplier decays by one per `intervalMs` spent back in service, so an endpoint
 * that recovered for good starts again from base. State for an endpoint survives reloads as long
 * as the endpoint stays in the Service (setEndpoints).
 */
export class OutlierDetector {
  private readonly states = new Map<string, State>();

  constructor(
    private settings: OutlierSettings,
    private readonly clock: Clock,
    endpointKeys: Iterable<string> = [],
    private readonly onEject: (endpoint: string, durationMs: number) => void = () => {},
  ) {
    this.setEndpoints(endpointKeys);
  }

  /** setSettings applies a new bundle's thresholds; current ejections run their course. */
  setSettings(settings: OutlierSettings): void {
    this.settings = settings;
  }

  /** setEndpoints keeps state of endpoints still present, forgets removed ones, adds new ones healthy. */
  setEndpoints(endpointKeys: Iterable<string>): void {
    const keep = new Set(endpointKeys);
    for (const key of this.states.keys()) if (!keep.has(key)) this.states.delete(key);
    for (const key of keep) {
      if (!this.states.has(key)) this.states.set(key, { consecutiveErrors: 0, ejectedUntil: 0, timesEjected: 0, totalEjections: 0 });
    }
  }

  /** isEjected says whether the endpoint must be skipped now; unknown endpoints are not ejected. */
  isEjected(endpointKey: string): boolean {
    const s = this.states.get(endpointKey);
    return s !== undefined && this.ejectedNow(s, this.clock());
  }

  /**
   * record feeds one finished request: `ok` false for a 5xx or a connection error. Results that
   * arrive while the endpoint is ejected (requests started before) are ignored.
   */
  record(endpointKey: string, ok: boolean): void {
    const s = this.states.get(endpointKey);
    if (s === undefined) return;
    const now = this.clock();
    if (this.ejectedNow(s, now)) return;
    if (ok) {
      s.consecutiveErrors = 0;
      return;
    }
    s.consecutiveErrors++;
    if (s.consecutiveErrors >= this.settings.consecutiveErrors) this.tryEject(endpointKey, s, now);
  }

  /** ejectedCount is how many endpoints are ejected now. O(endpoints). */
  ejectedCount(): number {
    const now = this.clock();
    let n = 0;
    for (const s of this.states.values()) if (this.ejectedNow(s, now)) n++;
    return n;
  }

  /** snapshot reports every endpoint's state, sorted by endpoint, for /config. */
  snapshot(): EndpointHealth[] {
    const now = this.clock();
    return [...this.states]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([endpoint, s]) => {
        const ejected = this.ejectedNow(s, now);
        return {
          endpoint,
          ejected,
          ejectedUntilMs: ejected ? s.ejectedUntil : null,
          timesEjected: s.timesEjected,
          consecutiveErrors: s.consecutiveErrors,
          totalEjections: s.totalEjections,
        };
      });
  }

  private ejectedNow(s: State, now: number): boolean {
    if (s.ejectedUntil === 0) return false;
    // After the return time the endpoint is back; ejectedUntil stays as the return time, which
    // the multiplier's decay is measured from. Errors were reset at ejection and ignored since.
    return now < s.ejectedUntil;
  }

  private tryEject(key: string, s: State, now: number): void {
    const { maxEjectionPercent, baseEjectionTimeMs, intervalMs } = this.settings;
    const total = this.states.size;
    const ejected = this.ejectedCount();
    const withinPercent = (ejected + 1) * 100 <= maxEjectionPercent * total;
    const firstOfSeveral = ejected === 0 && total >= 2 && maxEjectionPercent > 0;
    if (!withinPercent && !firstOfSeveral) return;
    if (s.ejectedUntil > 0 && intervalMs > 0) {
      const healthyFor = Math.max(0, now - s.ejectedUntil);
      s.timesEjected = Math.max(0, s.timesEjected - Math.floor(healthyFor / intervalMs));
    }
    s.timesEjected++;
    s.totalEjections++;
    const duration = Math.min(baseEjectionTimeMs * s.timesEjected, Math.max(MAX_EJECTION_MS, baseEjectionTimeMs));
    s.ejectedUntil = now + duration;
    s.consecutiveErrors = 0;
    this.onEject(key, duration);
  }
}
