import { Pool } from 'undici';

/**
 * PoolSet keeps one undici Pool per upstream origin. After a reload, `retain` closes the pools of
 * endpoints that no longer exist: `close()` lets their in-flight requests finish (drain), then
 * closes the sockets. Pools of endpoints that still exist are kept, connections and all.
 *
 * Keep-alive: undici closes an idle upstream socket after 4 s (or the upstream's `Keep-Alive:
 * timeout` hint minus 1 s), below Node's 5 s server default, so the proxy never sends on a
 * socket the upstream is closing (the idle race that produces resets).
 */
export class PoolSet {
  private readonly pools = new Map<string, Pool>();
  constructor(private readonly options: Pool.Options = {}) {}

  /** get returns the pool for `origin` (`http://host:port`), creating it on first use. */
  get(origin: string): Pool {
    let p = this.pools.get(origin);
    if (!p) {
      p = new Pool(origin, { keepAliveTimeout: 4_000, keepAliveMaxTimeout: 60_000, keepAliveTimeoutThreshold: 1_000, ...this.options });
      this.pools.set(origin, p);
    }
    return p;
  }

  /** retain closes (after draining) every pool whose origin is not in `keep`. */
  retain(keep: ReadonlySet<string>): string[] {
    const closed: string[] = [];
    for (const [origin, pool] of this.pools) {
      if (keep.has(origin)) continue;
      this.pools.delete(origin);
      closed.push(origin);
      pool.close().catch(() => {});
    }
    return closed;
  }

  /** origins currently pooled. */
  origins(): string[] {
    return [...this.pools.keys()];
  }

  /** close drains and closes every pool. */
  async close(): Promise<void> {
    const all = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(all.map((p) => p.close().catch(() => {})));
  }
}
