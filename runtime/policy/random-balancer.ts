import { eligibleIndexes } from './eligible.js';
import type { LoadBalancer, PickOptions } from './load-balancer.js';
import { randomIndex, type RandomSource } from './random.js';

/**
 * RandomBalancer picks uniformly among eligible endpoints. With an ineligible first draw it draws
 * again among the eligible ones only, so an ejected endpoint's share spreads evenly instead of
 * landing on its neighbour.
 */
export class RandomBalancer implements LoadBalancer {
  readonly type = 'Random' as const;

  constructor(
    private readonly n: number,
    private readonly random: RandomSource,
  ) {}

  pick(options?: PickOptions): number {
    if (this.n === 0) return -1;
    const i = randomIndex(this.random, this.n);
    const eligible = options?.eligible;
    if (!eligible || eligible(i)) return i;
    const ok = eligibleIndexes(this.n, eligible);
    if (ok.length === 0) return -1;
    return ok[randomIndex(this.random, ok.length)] ?? -1;
  }
}
