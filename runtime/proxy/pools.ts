import { Pool, type PoolOptions } from '../undici.js';
import { DEFAULT_PROXY_SETTINGS } from '../../schemas/proxy-settings.js';
import type { Endpoint } from '../../schemas/bundle.js';
import { endpointKey } from '../policy/endpoint-key.js';
import { H2SessionSet, UPSTREAM_IDLE_TIMEOUT_MS } from './h2-sessions.js';
import type { MeshTls } from './mtls/mesh-tls.js';

/**
 * PoolSet keeps one undici Pool per upstream origin. After a reload, `retain` closes the pools of
 * endpoints that no longer exist: `close()` lets their in-flight requests finish (drain), then
 * closes the sockets. Pools of endpoints that still exist are kept, connections and all.
 *
 * Keep-alive: undici closes an idle upstream socket after UPSTREAM_IDLE_TIMEOUT_MS (4 s), or
 * sooner when the upstream's `Keep-Alive: timeout` hint is shorter (hint minus 1 s), below Node's
 * 5 s server default, so the proxy never sends on a socket the upstream is closing (the idle race
 * that produces resets). A longer hint never stretches it: undici keeps the last hint per
 * connection and reconnects a spare socket after every aborted request, so with its 60 s cap
 * those spares lingered a minute (issue 13 item 9).
 *
 * Meshed endpoints (`meshed: true`: a Weft inbound listener) are reached with mTLS when the proxy
 * has an identity: their pool key is `https://host:port#<SPIFFE ID of the Service>`, and the pool's
 * connector accepts the server only if its certificate names that identity. Two Services sharing
 * an address get two pools, each checking its own identity. Other endpoints stay plaintext.
 */
export class PoolSet {
  private readonly pools = new Map<string, Pool>();
  /** Largest upstream response head accepted (MeshConfig spec.proxy.maxResponseHeadersBytes). */
  private maxHeaderSize = DEFAULT_PROXY_SETTINGS.maxResponseHeadersBytes;
  /**
   * HTTP/2 sessions (peer proxies, h2c apps, gRPC), keyed like the pools (keyFor): a meshed
   * endpoint's session is mTLS with the same identity check. Retained, recycled and closed with
   * the pools.
   */
  readonly h2: H2SessionSet;
  constructor(
    private readonly options: PoolOptions = {},
    private readonly tls: MeshTls | null = null,
  ) {
    this.h2 = new H2SessionSet({ tls: tls ? (expected) => tls.h2ClientOptions(expected) : undefined });
  }

  /**
   * setMaxResponseHeadersBytes applies a new response-head limit (on reload). undici fixes it per
   * pool, so when it changes every pool is replaced: the old ones drain (in-flight requests
   * finish on them) and close; the next request opens a pool with the new limit.
   */
  setMaxResponseHeadersBytes(bytes: number): void {
    if (bytes === this.maxHeaderSize) return;
    this.maxHeaderSize = bytes;
    for (const pool of this.pools.values()) pool.close().catch(() => {});
    this.pools.clear();
  }

  /** maxResponseHeadersBytes is the response-head limit new pools get. */
  get maxResponseHeadersBytes(): number {
    return this.maxHeaderSize;
  }

  /**
   * keyFor is the pool key of endpoint `e` of Service `svc` (null: not a mesh Service, e.g. the
   * local app): `https://host:port#<identity>` for a meshed endpoint when this proxy has an
   * identity, else `http://host:port`.
   */
  keyFor(e: Endpoint, svc: { readonly namespace: string; readonly name: string } | null): string {
    if (e.meshed === true && this.tls && svc) return `https://${endpointKey(e)}#${this.tls.serviceIdentity(svc.namespace, svc.name)}`;
    let k = this.plainKeys.get(e);
    if (k === undefined) this.plainKeys.set(e, (k = `http://${endpointKey(e)}`));
    return k;
  }

  /** Plain `http://host:port` keys by endpoint object (asked per request). */
  private readonly plainKeys = new WeakMap<Endpoint, string>();

  /** get returns the pool for `key` (from keyFor, or an `http://host:port` origin), creating it on first use. */
  get(key: string): Pool {
    let p = this.pools.get(key);
    if (!p) {
      const hash = key.indexOf('#');
      const base = { keepAliveTimeout: UPSTREAM_IDLE_TIMEOUT_MS, keepAliveMaxTimeout: UPSTREAM_IDLE_TIMEOUT_MS, keepAliveTimeoutThreshold: 1_000, maxHeaderSize: this.maxHeaderSize, ...this.options };
      if (hash >= 0 && this.tls) {
        p = new Pool(key.slice(0, hash), { ...base, connect: this.tls.connector(key.slice(hash + 1), { allowH2: base.allowH2 === true }) });
      } else {
        p = new Pool(key, base);
      }
      this.pools.set(key, p);
    }
    return p;
  }

  /** retain closes (after draining) every pool whose origin is not in `keep`. */
  retain(keep: ReadonlySet<string>): string[] {
    this.h2.retain(keep);
    const closed: string[] = [];
    for (const [origin, pool] of this.pools) {
      if (keep.has(origin)) continue;
      this.pools.delete(origin);
      closed.push(origin);
      pool.close().catch(() => {});
    }
    return closed;
  }

  /**
   * recycleMeshed retires every mTLS pool after a certificate rotation: the next request opens a
   * new pool (new connections, new certificate), while the old pool finishes what it has in flight
   * and then closes its connections. So no connection outlives the certificate it was opened with
   * by more than one renewal period, and no request fails.
   */
  recycleMeshed(): number {
    this.h2.recycleTls();
    let n = 0;
    for (const [key, pool] of this.pools) {
      if (!key.startsWith('https://')) continue;
      this.pools.delete(key);
      n++;
      pool.close().catch(() => {});
    }
    return n;
  }

  /** origins currently pooled: HTTP/1.1 pools, then HTTP/2 sessions (meshed endpoints, h2c) not also pooled over HTTP/1.1. */
  origins(): string[] {
    const h1 = [...this.pools.keys()];
    return [...h1, ...this.h2.keys().filter((k) => !this.pools.has(k))];
  }

  /** close drains and closes every pool. */
  async close(): Promise<void> {
    const all = [...this.pools.values()];
    this.pools.clear();
    await Promise.all([...all.map((p) => p.close().catch(() => {})), this.h2.close()]);
  }
}
