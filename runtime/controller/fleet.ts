/**
 * Fleet is what the controller knows about its proxies: for each proxy id, the service it
 * serves, the digest it last reported, whether it accepted it, and when it was last heard of
 * (a bundle request or a status report). It also times propagation: from the moment a new
 * digest is published to the moment every live proxy reports it active.
 */
/** ProxyState: `pending` until the proxy's first status report to this controller. */
export type ProxyState = 'active' | 'rejected' | 'pending';

/** ProxyRecord is one proxy as /v1/status shows it. */
export interface ProxyRecord {
  proxy: string;
  service: string;
  /** Digest the proxy reported (or presented in If-None-Match before its first report). */
  digest: string | null;
  /** `pending`: heard from, but no status report since the controller started. */
  state: ProxyState;
  /** Why the last bundle was rejected (code: reason), null when active. */
  error: string | null;
  /** Epoch ms of the last request from this proxy. */
  lastContact: number;
}

/** PropagationDone is reported once per published digest, when every live proxy has it active. */
export interface PropagationDone {
  digest: string;
  seconds: number;
  proxies: number;
}

/**
 * Fleet: see above. Invariants: one record per proxy id; a rejection never changes a proxy's
 * digest; propagation of a digest is reported at most once, and only while proxies are live.
 */
export class Fleet {
  private readonly proxies = new Map<string, ProxyRecord>();
  private pending: { digest: string; since: number; expected: ((service: string) => string | null) | null } | null = null;

  /**
   * @param lostAfterMs a proxy not heard of for this long is `lost`: shown, but it no longer
   *   holds up propagation; after `forgetAfterMs` it is dropped from the table.
   */
  constructor(
    private readonly lostAfterMs: number,
    private readonly forgetAfterMs: number,
    private readonly onPropagated: (done: PropagationDone) => void,
  ) {}

  /** seen records a bundle request; `presented` is the digest in If-None-Match, if any. */
  seen(proxy: string, service: string, presented: string | null, now = Date.now()): void {
    const rec = this.proxies.get(proxy);
    if (rec) {
      rec.lastContact = now;
      rec.service = service || rec.service;
      return;
    }
    this.proxies.set(proxy, { proxy, service, digest: presented, state: 'pending', error: null, lastContact: now });
  }

  /** report records a status report (POST /v1/status). */
  report(r: { proxy: string; service: string; digest: string | null; state: 'active' | 'rejected'; error: string | null }, now = Date.now()): void {
    const rec = this.proxies.get(r.proxy);
    if (r.state === 'active' || !rec) {
      this.proxies.set(r.proxy, { ...r, error: r.state === 'active' ? null : r.error, lastContact: now });
    } else {
      // A rejection leaves the proxy on what it had: keep that digest, record why.
      rec.state = 'rejected';
      rec.error = r.error;
      rec.service = r.service || rec.service;
      rec.lastContact = now;
    }
    this.checkPropagation(now);
  }

  /**
   * published starts timing propagation of `digest` (replacing any digest still in flight).
   * `expected` gives the digest a proxy of a Service should end up with (its slice); without
   * it, every proxy should have `digest` itself.
   */
  published(digest: string, since: number, expected: ((service: string) => string | null) | null = null): void {
    // With nobody listening there is nothing to time; a proxy that joins later is not "propagation".
    this.pending = this.live() > 0 ? { digest, since, expected } : null;
    this.checkPropagation(Date.now());
  }

  isLost(rec: ProxyRecord, now = Date.now()): boolean {
    return now - rec.lastContact > this.lostAfterMs;
  }

  /** list is every known proxy, sorted by service then id; forgotten ones are dropped first. */
  list(now = Date.now()): ProxyRecord[] {
    for (const [id, rec] of this.proxies) if (now - rec.lastContact > this.forgetAfterMs) this.proxies.delete(id);
    return [...this.proxies.values()].sort((a, b) => a.service.localeCompare(b.service) || a.proxy.localeCompare(b.proxy));
  }

  /** live is the number of proxies heard of within lostAfterMs. */
  live(now = Date.now()): number {
    let n = 0;
    for (const rec of this.proxies.values()) if (!this.isLost(rec, now)) n++;
    return n;
  }

  private checkPropagation(now: number): void {
    const p = this.pending;
    if (!p) return;
    let n = 0;
    for (const rec of this.proxies.values()) {
      if (this.isLost(rec, now)) continue;
      const want = p.expected ? (p.expected(rec.service) ?? p.digest) : p.digest;
      if (rec.digest !== want || rec.state !== 'active') return;
      n++;
    }
    if (n === 0) return;
    this.pending = null;
    this.onPropagated({ digest: p.digest, seconds: (now - p.since) / 1000, proxies: n });
  }
}
