import { eligibleIndexes } from './eligible.js';
import type { LoadBalancer, PickOptions } from './load-balancer.js';
import { randomIndex, type RandomSource } from './random.js';

/**
 * LeastRequestBalancer is "power of two choices": draw two distinct eligible endpoints at random
 * and take the one with fewer requests in flight (the first on a tie). O(1) per pick, and it
 * avoids the herd effect of always choosing the global minimum, which every proxy would agree on.
 */
export class LeastRequestBalancer implements LoadBalancer {
  readonly type = 'LeastRequest' as const;

  constructor(
    private readonly n: number,
    private readonly inFlight: (index: number) => number,
    private readonly random: RandomSource,
  ) {}

  pick(options?: PickOptions): number {
    const n = this.n;
    if (n === 0) return -1;
    const eligible = options?.eligible;
    if (n === 1) return !eligible || eligible(0) ? 0 : -1;
    // Fast path: two distinct draws over the whole list (the second draw skips the first index).
    const a = randomIndex(this.random, n);
    let b = randomIndex(this.random, n - 1);
    if (b >= a) b++;
    if (!eligible || (eligible(a) && eligible(b))) return this.better(a, b);
    const ok = eligibleIndexes(n, eligible);
    if (ok.length === 0) return -1;
    if (ok.length === 1) return ok[0] ?? -1;
    const x = randomIndex(this.random, ok.length);
    let y = randomIndex(this.random, ok.length - 1);
    if (y >= x) y++;
    return this.better(ok[x] ?? -1, ok[y] ?? -1);
  }

  private better(a: number, b: number): number {
    return this.inFlight(b) < this.inFlight(a) ? b : a;
  }
}
