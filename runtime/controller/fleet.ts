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
  /** The SPIFFE ID of its client certificate (mTLS), null in --insecure mode. */
  identity: string | null;
  /** When that certificate expires (ISO 8601), null in --insecure mode. */
  certNotAfter: string | null;
}

/** PeerTag is the verified client certificate a request came with: who, and until when. */
export interface PeerTag {
  uri: string;
  notAfter: Date;
}

/** FleetLimits bound the table: a certificate holder cannot grow it without end. */
export interface FleetLimits {
  /** Proxies kept per identity (per reported service in --insecure mode); the least recently heard of is dropped for a new one. */
  perIdentity: number;
  /** Proxies kept in all; a new proxy beyond it is not recorded (its requests are still answered). */
  total: number;
}

/** DEFAULT_FLEET_LIMITS: 1,000 instances of one Service, 20,000 proxies in all. */
export const DEFAULT_FLEET_LIMITS: FleetLimits = { perIdentity: 1000, total: 20_000 };

/** PropagationDone is reported once per published digest, when every live proxy has it active. */
export interface PropagationDone {
  digest: string;
  seconds: number;
  proxies: number;
}

/**
 * Fleet: see above. Invariants: one record per (identity, proxy id), so a proxy cannot overwrite
 * another identity's row by reusing its id; at most `limits.perIdentity` rows per identity and
 * `limits.total` in all; a rejection never changes a proxy's digest; propagation of a digest is
 * reported at most once, and only while proxies are live.
 */
export class Fleet {
  private readonly proxies = new Map<string, ProxyRecord>();
  private readonly perBucket = new Map<string, number>();
  private pending: { digest: string; since: number; expected: ((service: string) => string | null) | null } | null = null;

  /**
   * @param lostAfterMs a proxy not heard of for this long is `lost`: shown, but it no longer
   *   holds up propagation; after `forgetAfterMs` it is dropped from the table.
   */
  constructor(
    private readonly lostAfterMs: number,
    private readonly forgetAfterMs: number,
    private readonly onPropagated: (done: PropagationDone) => void,
    private readonly limits: FleetLimits = DEFAULT_FLEET_LIMITS,
  ) {}

  /** size is the number of rows in the table. */
  get size(): number {
    return this.proxies.size;
  }

  private keyOf(proxy: string, peer: PeerTag | null): string {
    return `${peer?.uri ?? ''}\u0000${proxy}`;
  }

  private bucketOf(rec: Pick<ProxyRecord, 'identity' | 'service'>): string {
    return rec.identity ?? `service:${rec.service}`;
  }

  private remove(key: string): void {
    const rec = this.proxies.get(key);
    if (!rec) return;
    this.proxies.delete(key);
    const b = this.bucketOf(rec);
    const n = (this.perBucket.get(b) ?? 1) - 1;
    if (n <= 0) this.perBucket.delete(b);
    else this.perBucket.set(b, n);
  }

  /**
   * admit makes room for a new row: within its bucket the least recently heard of row goes; in
   * all, rows past forgetAfterMs are dropped first, and if the table is still full the new row is
   * refused (false).
   */
  private admit(rec: ProxyRecord, now: number): boolean {
    const b = this.bucketOf(rec);
    if ((this.perBucket.get(b) ?? 0) >= this.limits.perIdentity) {
      let oldest: [string, number] | null = null;
      for (const [k, r] of this.proxies) if (this.bucketOf(r) === b && (!oldest || r.lastContact < oldest[1])) oldest = [k, r.lastContact];
      if (oldest) this.remove(oldest[0]);
    }
    if (this.proxies.size >= this.limits.total) {
      this.forget(now);
      if (this.proxies.size >= this.limits.total) return false;
    }
    return true;
  }

  private insert(key: string, rec: ProxyRecord): void {
    this.proxies.set(key, rec);
    const b = this.bucketOf(rec);
    this.perBucket.set(b, (this.perBucket.get(b) ?? 0) + 1);
  }

  /**
   * seen records a bundle request; `presented` is the digest in If-None-Match, if any; `peer` the
   * verified client certificate (mTLS). False when the table is full and the proxy is new.
   */
  seen(proxy: string, service: string, presented: string | null, now = Date.now(), peer: PeerTag | null = null): boolean {
    const key = this.keyOf(proxy, peer);
    const rec = this.proxies.get(key);
    if (rec) {
      rec.lastContact = now;
      if (!peer) rec.service = service || rec.service;
      if (peer) rec.certNotAfter = peer.notAfter.toISOString();
      return true;
    }
    const fresh: ProxyRecord = { proxy, service, digest: presented, state: 'pending', error: null, lastContact: now, identity: peer?.uri ?? null, certNotAfter: peer?.notAfter.toISOString() ?? null };
    if (!this.admit(fresh, now)) return false;
    this.insert(key, fresh);
    return true;
  }

  /**
   * report records a status report (POST /v1/status); with `peer`, the row is that identity's
   * (the caller has checked that `service` is the certificate's). False when the table is full.
   */
  report(r: { proxy: string; service: string; digest: string | null; state: 'active' | 'rejected'; error: string | null }, now = Date.now(), peer: PeerTag | null = null): boolean {
    const key = this.keyOf(r.proxy, peer);
    const rec = this.proxies.get(key);
    const identity = peer?.uri ?? null;
    const certNotAfter = peer?.notAfter.toISOString() ?? null;
    if (!rec) {
      const fresh: ProxyRecord = { ...r, error: r.state === 'active' ? null : r.error, lastContact: now, identity, certNotAfter };
      if (!this.admit(fresh, now)) return false;
      this.insert(key, fresh);
    } else if (r.state === 'active') {
      Object.assign(rec, { digest: r.digest, state: 'active', error: null, lastContact: now, certNotAfter });
      if (!peer) rec.service = r.service;
    } else {
      // A rejection leaves the proxy on what it had: keep that digest, record why.
      rec.state = 'rejected';
      rec.error = r.error;
      if (!peer) rec.service = r.service || rec.service;
      rec.lastContact = now;
      rec.certNotAfter = certNotAfter;
    }
    this.checkPropagation(now);
    return true;
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

  private forget(now: number): void {
    for (const [key, rec] of this.proxies) if (now - rec.lastContact > this.forgetAfterMs) this.remove(key);
  }

  /** list is every known proxy, sorted by service then id; forgotten ones are dropped first. */
  list(now = Date.now()): ProxyRecord[] {
    this.forget(now);
    return [...this.proxies.values()].sort((a, b) => a.service.localeCompare(b.service) || a.proxy.localeCompare(b.proxy));
  }

  /** serves is true when some proxy heard of within lostAfterMs reported `service` (O(proxies), no sorting). */
  serves(service: string, now = Date.now()): boolean {
    for (const rec of this.proxies.values()) if (rec.service === service && !this.isLost(rec, now)) return true;
    return false;
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
