/**
 * SlidingWindowCounter counts events over the last `windowMs` with `buckets` fixed-width buckets
 * (a ring), so add and total are O(1) amortised and memory is fixed. The window is approximate
 * to one bucket width: an event leaves the count between windowMs - bucketMs and windowMs after
 * it happened. Time must not go backwards by more than a bucket (a monotonic clock).
 */
export class SlidingWindowCounter {
  private readonly counts: Float64Array;
  private readonly bucketMs: number;
  /** Absolute index (floor(now / bucketMs)) of the newest bucket. */
  private current = -1;
  private sum = 0;

  constructor(
    readonly windowMs: number,
    buckets = 10,
  ) {
    const n = Math.max(1, Math.floor(buckets));
    this.counts = new Float64Array(n);
    this.bucketMs = Math.max(1, windowMs / n);
  }

  /** add records `n` events at time `now`. */
  add(now: number, n = 1): void {
    this.advance(now);
    const i = this.current % this.counts.length;
    this.counts[i] = (this.counts[i] ?? 0) + n;
    this.sum += n;
  }

  /** total is the number of events in the window ending at `now`. */
  total(now: number): number {
    this.advance(now);
    return this.sum;
  }

  private advance(now: number): void {
    const idx = Math.floor(now / this.bucketMs);
    if (idx <= this.current) return;
    const n = this.counts.length;
    if (this.current < 0 || idx - this.current >= n) {
      this.counts.fill(0);
      this.sum = 0;
    } else {
      for (let k = this.current + 1; k <= idx; k++) {
        const i = k % n;
        this.sum -= this.counts[i] ?? 0;
        this.counts[i] = 0;
      }
    }
    this.current = idx;
  }
}
