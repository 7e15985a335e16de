import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Logger } from '../log.js';

/**
 * Idle compaction: one full garbage collection when the proxy is quiet after a bundle activation,
 * so that memory taken while the bundle was read, verified and built goes back to the system.
 *
 * Why: loading a bundle allocates several times its size (the text, the parsed document, the
 * canonical JSON for the digest, the route table), and V8 grows its young generation to its
 * maximum (2 × 16 MiB semi-spaces) under that load. V8 gives this memory back only in a
 * collection that runs while the allocation rate is low, and its own memory reducer is armed
 * only after a major collection that grew the old generation; a quiet proxy makes no garbage, so
 * nothing ever collects it. Measured (BENCHMARKS.md, proxy memory): an idle proxy on a 14 KiB
 * bundle holds 74 MiB instead of about 60, one on a 10,000-route bundle about 125 MiB instead
 * of 95.
 *
 * When: `delayMs` after each activation, if the event loop was busy less than
 * `idleUtilization` of that time (a proxy under traffic is never stopped for it: it retries every
 * `retryMs`, at most `maxAttempts` times, then gives up until the next activation). The
 * collection is synchronous and takes 10-450 ms (it compacts the whole heap, see `collect`); the
 * young generation shrinks only when V8 sees a low allocation rate over its last 5 s, hence a
 * delay of at least 5 s, and a second collection when the first left it large.
 *
 * How: node exposes no way to ask V8 for a collection without `--expose-gc`, so the `gc`
 * function is taken from a new context created with that flag on (`v8.setFlagsFromString`, the
 * flag is switched off again at once); the main context's globals are not changed. Where that is
 * not possible, compaction is off (`available` false) and the proxy works as before.
 */
export interface IdleCompactionOptions {
  readonly logger: Logger;
  /** Quiet time after an activation before the collection; default 6000 ms. */
  readonly delayMs?: number;
  /** Wait between attempts while the proxy is busy; default 6000 ms. */
  readonly retryMs?: number;
  /** Attempts per activation; default 10. */
  readonly maxAttempts?: number;
  /** Event-loop utilization (0..1) under which the proxy counts as quiet; default 0.05. */
  readonly idleUtilization?: number;
  /** The collection (tests); default: V8's full collection, when it can be had. */
  readonly gc?: (() => void) | null;
  /** Event-loop utilization since `since` (tests); default node's performance.eventLoopUtilization. */
  readonly utilization?: (since: EventLoopUtilization) => number;
  /** Whether a collection left the young generation at its smallest (tests); default: V8's heap statistics (true with an injected `gc`). */
  readonly settled?: () => boolean;
}

/** IdleCompaction schedules the collection described above; `schedule()` after each activation. */
export class IdleCompaction {
  private readonly gc: (() => void) | null;
  private timer: NodeJS.Timeout | null = null;
  private since: EventLoopUtilization | null = null;
  private attempts = 0;
  /** Collections run so far (for /config and tests). */
  runs = 0;

  constructor(private readonly opts: IdleCompactionOptions) {
    this.gc = opts.gc === undefined ? exposedGc() : opts.gc;
  }

  /** available: a collection can be requested in this process. */
  get available(): boolean {
    return this.gc !== null;
  }

  /** schedule (re)starts the wait for a quiet moment; a pending one is replaced. */
  schedule(): void {
    if (!this.gc) return;
    this.attempts = 0;
    this.arm(this.opts.delayMs ?? 6000);
  }

  /** stop cancels a pending collection. */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private arm(ms: number): void {
    this.stop();
    this.since = performance.eventLoopUtilization();
    this.timer = setTimeout(() => this.tick(), ms);
    this.timer.unref();
  }

  private tick(): void {
    this.timer = null;
    const since = this.since!;
    const used = this.opts.utilization ? this.opts.utilization(since) : performance.eventLoopUtilization(since).utilization;
    const lastAttempt = ++this.attempts >= (this.opts.maxAttempts ?? 10);
    if (used > (this.opts.idleUtilization ?? 0.05)) {
      if (!lastAttempt) this.arm(this.opts.retryMs ?? 6000);
      return;
    }
    const before = process.memoryUsage();
    const t0 = performance.now();
    this.collect();
    const ms = performance.now() - t0;
    this.runs++;
    // A quiet window can still end with an allocation burst (traffic that stopped a second ago):
    // V8 then keeps its young generation at full size. Collect again after the next quiet window.
    if (!lastAttempt && !(this.opts.settled ?? (this.opts.gc === undefined ? youngGenerationSettled : () => true))()) {
      this.arm(this.opts.retryMs ?? 6000);
      return;
    }
    const after = process.memoryUsage();
    const mib = (n: number): number => Math.round((n / 1048576) * 10) / 10;
    this.opts.logger.log('info', 'heap compacted', { ms: Math.round(ms), rssMiB: [mib(before.rss), mib(after.rss)], heapTotalMiB: [mib(before.heapTotal), mib(after.heapTotal)] });
  }

  /**
   * collect runs the collection. V8's own one compacts only pages it finds fragmented enough
   * (more than about 70 % free); with `--compact-on-every-full-gc` switched on for this one call
   * it moves every live object together, so partly filled pages of the old generation go back to
   * the system too (measured: a 10,000-route proxy's old generation 35 MiB committed for 29 MiB
   * live, after it the same live data in 30 MiB).
   */
  private collect(): void {
    if (this.opts.gc !== undefined) return this.gc!();
    const keep = process.execArgv.includes('--compact-on-every-full-gc');
    try {
      if (!keep) v8.setFlagsFromString('--compact-on-every-full-gc');
      this.gc!();
    } finally {
      if (!keep) v8.setFlagsFromString('--no-compact-on-every-full-gc');
    }
  }
}

/**
 * youngGenerationSettled: V8's young generation is back at its smallest size after a collection.
 * V8 shrinks it only in a collection that sees a low allocation rate over about the last 5 s; a
 * semi-space still larger than 1 MiB means the window before the collection was not quiet.
 */
function youngGenerationSettled(): boolean {
  const young = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
  return young === undefined || young.space_size <= 2 * 1048576;
}

/** exposedGc is V8's `gc()`: the global one under --expose-gc, else one from a new context (see above); null when neither works. */
function exposedGc(): (() => void) | null {
  const global = (globalThis as { gc?: unknown }).gc;
  if (typeof global === 'function') return global as () => void;
  try {
    v8.setFlagsFromString('--expose-gc');
    const fn: unknown = runInNewContext('gc');
    return typeof fn === 'function' ? (fn as () => void) : null;
  } catch {
    return null;
  } finally {
    v8.setFlagsFromString('--no-expose-gc');
  }
}
