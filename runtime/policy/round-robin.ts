import type { LoadBalancer, PickOptions } from './load-balancer.js';

/**
 * RoundRobinBalancer cycles through endpoints in list order, skipping ineligible ones. Each pick
 * advances the cursor by one, so with all endpoints eligible every endpoint gets exactly one
 * request in each run of n picks.
 */
export class RoundRobinBalancer implements LoadBalancer {
  readonly type = 'RoundRobin' as const;
  private next = 0;

  constructor(private readonly n: number) {}

  pick(options?: PickOptions): number {
    const n = this.n;
    if (n === 0) return -1;
    const start = this.next;
    this.next = (start + 1) % n;
    const eligible = options?.eligible;
    if (!eligible) return start;
    for (let k = 0; k < n; k++) {
      const i = (start + k) % n;
      if (eligible(i)) return i;
    }
    return -1;
  }
}
