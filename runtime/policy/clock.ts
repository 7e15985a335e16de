/**
 * Clock returns the current time in milliseconds (monotonic when it can be). Stateful policies
 * (outlier ejection, retry budgets, token buckets) read time only through a Clock passed in, so
 * tests move time by hand and nothing needs a timer per request.
 */
export type Clock = () => number;

/**
 * monotonicClock is performance.now(): immune to wall-clock jumps (NTP steps would otherwise
 * refill every token bucket or un-eject every endpoint at once).
 */
export const monotonicClock: Clock = () => performance.now();

/** ManualClock is a Clock for tests: time moves only when `advance` or `set` is called. */
export class ManualClock {
  private t: number;

  constructor(start = 0) {
    this.t = start;
  }

  /** now is the Clock function, bound so it can be passed around. */
  readonly now: Clock = () => this.t;

  advance(ms: number): void {
    this.t += ms;
  }

  set(ms: number): void {
    this.t = ms;
  }
}
