import type { BackendPolicySettings } from '../../schemas/bundle.js';
import type { Clock } from './clock.js';
import { SlidingWindowCounter } from './sliding-window.js';

/** RetryBudgetSettings is the lowered `retryBudget` of a BackendPolicy (defaults 20%, 10/s, 10 s). */
export type RetryBudgetSettings = BackendPolicySettings['retryBudget'];

/**
 * RetryBudget caps the retries one proxy sends to one backend Service, so a failing Service is
 * not hit by a retry storm (GEP-3388's BackendTrafficPolicy budget, Linkerd's retry budget).
 * A retry is allowed when either
 *  - retries in the last `intervalMs` stay within `percent`% of original requests in that
 *    window, or
 *  - retries in the last second stay within `minRetriesPerSecond` (so a quiet Service can still
 *    retry at all).
 * Under a fully failing backend, retries therefore stay below percent% of requests plus
 * minRetriesPerSecond per second. Only original requests count as requests; retries never earn
 * budget. O(1) per call; memory is fixed (bucketed counters).
 */
export class RetryBudget {
  private requests: SlidingWindowCounter;
  private retries: SlidingWindowCounter;
  private readonly retriesLastSecond = new SlidingWindowCounter(1000, 10);

  constructor(
    private settings: RetryBudgetSettings,
    private readonly clock: Clock,
  ) {
    this.requests = new SlidingWindowCounter(settings.intervalMs, 10);
    this.retries = new SlidingWindowCounter(settings.intervalMs, 10);
  }

  /** setSettings applies a new bundle's budget; counts restart only if the window length changed. */
  setSettings(settings: RetryBudgetSettings): void {
    if (settings.intervalMs !== this.settings.intervalMs) {
      this.requests = new SlidingWindowCounter(settings.intervalMs, 10);
      this.retries = new SlidingWindowCounter(settings.intervalMs, 10);
    }
    this.settings = settings;
  }

  /** recordRequest counts one original request (call once per request, not per attempt). */
  recordRequest(): void {
    this.requests.add(this.clock());
  }

  /**
   * tryRetry asks to send one retry. True: the retry is counted and may be sent. False: the
   * budget is spent; the caller returns the response (or error) it already has.
   */
  tryRetry(): boolean {
    const now = this.clock();
    const { percent, minRetriesPerSecond } = this.settings;
    const withinRatio = (this.retries.total(now) + 1) * 100 <= percent * this.requests.total(now);
    const withinFloor = this.retriesLastSecond.total(now) + 1 <= minRetriesPerSecond;
    if (!withinRatio && !withinFloor) return false;
    this.retries.add(now);
    this.retriesLastSecond.add(now);
    return true;
  }

  /** snapshot reports the window's counts, for /config. */
  snapshot(): { requests: number; retries: number; retriesLastSecond: number } {
    const now = this.clock();
    return { requests: this.requests.total(now), retries: this.retries.total(now), retriesLastSecond: this.retriesLastSecond.total(now) };
  }
}
