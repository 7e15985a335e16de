import type { BackendPolicySettings } from '../../schemas/bundle.js';
import { eligibleIndexes } from './eligible.js';
import { policyHeader } from './headers.js';
import { hash32 } from './hash.js';
import type { LoadBalancer, PickOptions } from './load-balancer.js';
import { randomIndex, type RandomSource } from './random.js';

/** VIRTUAL_NODES is how many points each endpoint gets on the ring: enough for a ±10% spread. */
export const VIRTUAL_NODES = 128;

/** HashOn is what a ConsistentHash balancer hashes: a request header or the client address. */
export type HashOn = Extract<BackendPolicySettings['loadBalancer'], { type: 'ConsistentHash' }>['hashOn'];

/**
 * hashKeyFor extracts a request's hash key: the header's value (first value when repeated), or
 * the client address. Null when the header is absent, so the balancer falls back to random.
 */
export function hashKeyFor(hashOn: HashOn, headers: Readonly<Record<string, string | readonly string[] | undefined>>, clientAddress: string | null, authority?: string): string | null {
  if ('header' in hashOn) {
    const v = policyHeader(headers, hashOn.header.toLowerCase(), authority);
    const first = Array.isArray(v) ? v[0] : v;
    return first === undefined ? null : first;
  }
  return clientAddress;
}

/**
 * HashRing places VIRTUAL_NODES points per endpoint key on a 32-bit circle; a key belongs to the
 * first point at or after its hash. Points depend only on endpoint keys, never on list order, so
 * adding or removing one of N endpoints moves only the keys that endpoint gains or loses
 * (about 1/N). Immutable once built.
 */
export class HashRing {
  private readonly points: Uint32Array;
  private readonly owners: Int32Array;

  constructor(endpointKeys: readonly string[], virtualNodes = VIRTUAL_NODES) {
    const pairs: { point: number; owner: number }[] = [];
    endpointKeys.forEach((key, owner) => {
      for (let v = 0; v < virtualNodes; v++) pairs.push({ point: hash32(`${key}#${v}`), owner });
    });
    // Tie-break on the endpoint key, not the list index, so collisions resolve the same way
    // whatever order the endpoints were listed in.
    pairs.sort((x, y) => x.point - y.point || compareStrings(endpointKeys[x.owner] ?? '', endpointKeys[y.owner] ?? ''));
    this.points = Uint32Array.from(pairs, (p) => p.point);
    this.owners = Int32Array.from(pairs, (p) => p.owner);
  }

  /** size is the number of points on the ring. */
  get size(): number {
    return this.points.length;
  }

  /**
   * lookup returns the owner index for `key`, walking clockwise past owners `eligible` rejects;
   * -1 when the ring is empty or no owner is eligible.
   */
  lookup(key: string, eligible?: (index: number) => boolean): number {
    const points = this.points;
    const n = points.length;
    if (n === 0) return -1;
    const h = hash32(key);
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((points[mid] ?? 0) < h) lo = mid + 1;
      else hi = mid;
    }
    for (let k = 0; k < n; k++) {
      const owner = this.owners[(lo + k) % n] ?? -1;
      if (!eligible || eligible(owner)) return owner;
    }
    return -1;
  }
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * ConsistentHashBalancer sends equal keys to the same endpoint while it stays eligible; when it
 * is ejected, its keys move to the next endpoint clockwise and come back when it returns.
 * A request without a key (header absent) goes to a random eligible endpoint.
 */
export class ConsistentHashBalancer implements LoadBalancer {
  readonly type = 'ConsistentHash' as const;
  private readonly ring: HashRing;
  private readonly n: number;

  constructor(
    endpointKeys: readonly string[],
    private readonly random: RandomSource,
  ) {
    this.ring = new HashRing(endpointKeys);
    this.n = endpointKeys.length;
  }

  pick(options?: PickOptions): number {
    if (this.n === 0) return -1;
    const key = options?.hashKey;
    if (key !== undefined && key !== null) return this.ring.lookup(key, options?.eligible);
    const eligible = options?.eligible;
    if (!eligible) return randomIndex(this.random, this.n);
    const ok = eligibleIndexes(this.n, eligible);
    return ok.length === 0 ? -1 : (ok[randomIndex(this.random, ok.length)] ?? -1);
  }
}
