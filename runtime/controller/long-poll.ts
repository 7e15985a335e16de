/**
 * LongPollHub holds waiting requests (`Prefer: wait=N`) until a new bundle exists or their time
 * is up. Thousands of idle proxies must cost little, so there are no per-request timers:
 * waiters sit in a Set (for the wake-up) and in a timer wheel of buckets `tickMs` wide (for
 * expiry), and ONE interval sweeps only the buckets that are due. A new bundle wakes every
 * waiter once, in one pass. Expiry is at most one tick late, never early.
 */
/** Waiter is one held request: what it carries, and how to answer it. */
export interface Waiter<T> {
  readonly value: T;
  /** Called once: `woken` with the new bundle, or `expired`, or `closed` (client went away). */
  readonly settle: (how: 'woken' | 'expired' | 'closed') => void;
}

interface Slot<T> {
  waiter: Waiter<T>;
  bucket: number;
}

/** LongPollHub: see above. `hold` is O(1); `wake` is O(waiters); a sweep is O(expired). */
export class LongPollHub<T> {
  private readonly slots = new Map<Waiter<T>, Slot<T>>();
  private readonly wheel = new Map<number, Set<Waiter<T>>>();
  private readonly timer: NodeJS.Timeout;
  private lastSwept: number;

  constructor(private readonly tickMs = 250) {
    this.lastSwept = Math.floor(Date.now() / tickMs);
    this.timer = setInterval(() => this.sweep(), tickMs);
    this.timer.unref();
  }

  /** size is the number of requests being held. */
  get size(): number {
    return this.slots.size;
  }

  /** hold parks `waiter` until wake() or `waitMs` from now; returns a function that drops it (client closed). */
  hold(waiter: Waiter<T>, waitMs: number): () => void {
    // Rounded up: a waiter never expires early, so a proxy asking wait=30 gets >= 30 s.
    const bucket = Math.max(Math.ceil((Date.now() + waitMs) / this.tickMs), this.lastSwept);
    this.slots.set(waiter, { waiter, bucket });
    let set = this.wheel.get(bucket);
    if (!set) this.wheel.set(bucket, (set = new Set()));
    set.add(waiter);
    return () => {
      if (this.remove(waiter)) waiter.settle('closed');
    };
  }

  /** wake settles every waiter as `woken` (those for which `filter` holds, when given). */
  wake(filter?: (value: T) => boolean): number {
    let n = 0;
    for (const waiter of [...this.slots.keys()]) {
      if (filter && !filter(waiter.value)) continue;
      this.remove(waiter);
      waiter.settle('woken');
      n++;
    }
    return n;
  }

  /** values lists what every held request carries (for /v1/status and metrics). */
  *values(): IterableIterator<T> {
    for (const w of this.slots.keys()) yield w.value;
  }

  /** close expires everything now and stops the sweep. */
  close(): void {
    clearInterval(this.timer);
    for (const waiter of [...this.slots.keys()]) {
      this.remove(waiter);
      waiter.settle('expired');
    }
  }

  private remove(waiter: Waiter<T>): boolean {
    const slot = this.slots.get(waiter);
    if (!slot) return false;
    this.slots.delete(waiter);
    const set = this.wheel.get(slot.bucket);
    set?.delete(waiter);
    if (set && set.size === 0) this.wheel.delete(slot.bucket);
    return true;
  }

  private sweep(): void {
    const now = Math.floor(Date.now() / this.tickMs);
    for (let b = this.lastSwept; b <= now; b++) {
      const set = this.wheel.get(b);
      if (!set) continue;
      this.wheel.delete(b);
      for (const waiter of set) {
        this.slots.delete(waiter);
        waiter.settle('expired');
      }
    }
    this.lastSwept = now + 1;
  }
}
