import type { RateLimit } from '../../schemas/bundle.js';
import type { CallerIdentity } from '../identity.js';
import { policyHeader } from './headers.js';
import type { Clock } from './clock.js';

/** MAX_KEYS_PER_LIMIT bounds each limit's bucket table (approximate LRU): distinct keys cannot exhaust memory. */
export const MAX_KEYS_PER_LIMIT = 10_000;

/** RateLimitRequest is what a limit key can be drawn from. */
export interface RateLimitRequest {
  caller: CallerIdentity | null;
  /** Remote address of the connection (IPv4-mapped IPv6 is unmapped); null when unknown. */
  clientAddress: string | null;
  /** Lower-case header names, as node:http gives them. */
  headers: Record<string, string | string[] | undefined>;
  /** The request's authority (what a `header:host` key reads). */
  authority?: string;
}

/** UNIDENTIFIED_CALLER is the one bucket all callers without an identity share for `caller` keys. */
export const UNIDENTIFIED_CALLER = '-';

/**
 * rateLimitKey extracts a request's bucket key for a limit's `key` (`caller` | `clientAddress` |
 * `header:<name>`). Null means the limit does not apply: the header is absent or the client
 * address unknown. Unidentified callers share one bucket rather than escape a caller limit.
 */
export function rateLimitKey(key: string, req: RateLimitRequest): string | null {
  if (key === 'caller') return req.caller ? `${req.caller.namespace}/${req.caller.service}` : UNIDENTIFIED_CALLER;
  if (key === 'clientAddress') {
    const a = req.clientAddress;
    if (a === null || a === '') return null;
    return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
  }
  if (key.startsWith('header:')) {
    const v = policyHeader(req.headers, key.slice(7).toLowerCase(), req.authority);
    const first = Array.isArray(v) ? v[0] : v;
    return first === undefined ? null : first;
  }
  return null;
}

/** RateLimitDecision: allowed, or refused by `policy` with Retry-After in whole seconds (>= 1). */
export type RateLimitDecision = { allowed: true } | { allowed: false; policy: string; retryAfterSeconds: number };

const ALLOWED: RateLimitDecision = Object.freeze({ allowed: true });

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * BucketTable is the token buckets of one limit, keyed by request key, bounded to `maxKeys`
 * entries. It is an LRU approximated by two generations (a "2Q-lite"): keys seen recently live in
 * `young`; when `young` is half full it becomes `old` and the previous `old` is dropped; a key
 * found in `old` moves back to `young`. So a key is forgotten only after maxKeys/2 other keys
 * were seen since its last use, memory never exceeds maxKeys buckets, and every operation is
 * O(1) without the delete-and-reinsert churn of an exact LRU on a Map. A forgotten key starts
 * again with a full bucket: the price of bounded memory, paid only by the least recently seen.
 */
export class BucketTable {
  private young = new Map<string, Bucket>();
  private old = new Map<string, Bucket>();
  private readonly generation: number;

  constructor(readonly maxKeys = MAX_KEYS_PER_LIMIT) {
    this.generation = Math.max(1, Math.floor(maxKeys / 2));
  }

  /** size is the number of keys held (<= maxKeys). */
  get size(): number {
    return this.young.size + this.old.size;
  }

  /** refill returns the key's bucket brought up to `now`; tokens <= burst. */
  refill(key: string, limit: RateLimit, now: number): Bucket {
    let b = this.young.get(key);
    if (b === undefined) {
      b = this.old.get(key);
      if (b !== undefined) this.old.delete(key);
      else b = { tokens: limit.burst, at: now };
      if (this.young.size >= this.generation) {
        this.old = this.young;
        this.young = new Map();
      }
      this.young.set(key, b);
    }
    if (now > b.at) {
      b.tokens = Math.min(limit.burst, b.tokens + (now - b.at) * (limit.requests / limit.perMs));
      b.at = now;
    } else if (b.tokens > limit.burst) {
      b.tokens = limit.burst;
    }
    return b;
  }
}

/**
 * tableId names a limit's bucket table across reloads: policy and key, plus the position among
 * the policy's limits with that same key. A reload that keeps the policy keeps its buckets (new
 * rates apply from the next request); a renamed policy starts afresh.
 */
export function tableId(limits: readonly RateLimit[], index: number): string {
  const l = limits[index];
  if (l === undefined) return '';
  let n = 0;
  for (let i = 0; i < index; i++) if (limits[i]?.policy === l.policy && limits[i]?.key === l.key) n++;
  return `${l.policy}|${l.key}|${n}`;
}

/**
 * RateLimiter enforces a list of limits (those of one Service, or one HTTPRoute rule) with token
 * buckets: each key holds up to `burst` tokens, refilled at `requests` per `perMs`, and a request
 * takes one token from every applicable limit. A request is refused when any applicable limit
 * is empty, and then takes no token from any (a refused request must not drain other limits).
 * Per proxy instance: N instances admit up to N times the limit.
 */
export class RateLimiter {
  private readonly tables: BucketTable[];

  constructor(
    private readonly limits: readonly RateLimit[],
    private readonly clock: Clock,
    tables?: readonly BucketTable[],
  ) {
    this.tables = limits.map((_, i) => tables?.[i] ?? new BucketTable());
  }

  /** check decides one request and, when allowed, takes its tokens. */
  check(req: RateLimitRequest): RateLimitDecision {
    const limits = this.limits;
    if (limits.length === 0) return ALLOWED;
    const now = this.clock();
    let first: Bucket | null = null;
    let more: Bucket[] | null = null;
    for (let i = 0; i < limits.length; i++) {
      const limit = limits[i];
      const table = this.tables[i];
      if (limit === undefined || table === undefined) continue;
      const key = rateLimitKey(limit.key, req);
      if (key === null) continue;
      const b = table.refill(key, limit, now);
      if (b.tokens < 1) {
        const rate = limit.requests / limit.perMs;
        const waitMs = rate > 0 ? (1 - b.tokens) / rate : Number.POSITIVE_INFINITY;
        const retryAfterSeconds = Number.isFinite(waitMs) ? Math.max(1, Math.ceil(waitMs / 1000)) : 3600;
        return { allowed: false, policy: limit.policy, retryAfterSeconds };
      }
      if (first === null) first = b;
      else (more ??= []).push(b);
    }
    if (first !== null) first.tokens -= 1;
    if (more !== null) for (const b of more) b.tokens -= 1;
    return ALLOWED;
  }
}

/**
 * RateLimitState keeps bucket tables across bundle reloads, by tableId. `limiter` builds a
 * RateLimiter for a new bundle's limits, reusing tables whose id persists; `sweep` forgets the
 * tables the latest bundle no longer names.
 */
export class RateLimitState {
  private tables = new Map<string, BucketTable>();
  private used = new Set<string>();

  constructor(
    private readonly clock: Clock,
    private readonly maxKeys = MAX_KEYS_PER_LIMIT,
  ) {}

  /** limiter returns a RateLimiter over `limits`, sharing tables with earlier limiters by id. */
  limiter(limits: readonly RateLimit[]): RateLimiter {
    const tables = limits.map((_, i) => {
      const id = tableId(limits, i);
      this.used.add(id);
      let t = this.tables.get(id);
      if (t === undefined) {
        t = new BucketTable(this.maxKeys);
        this.tables.set(id, t);
      }
      return t;
    });
    return new RateLimiter(limits, this.clock, tables);
  }

  /**
   * sweep drops tables not requested through `limiter` since the previous sweep. Call it after
   * building every limiter of a new bundle.
   */
  sweep(): void {
    for (const id of this.tables.keys()) if (!this.used.has(id)) this.tables.delete(id);
    this.used = new Set();
  }

  /** tableCount is the number of tables held. */
  get tableCount(): number {
    return this.tables.size;
  }
}
