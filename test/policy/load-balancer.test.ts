import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HashRing, hashKeyFor, VIRTUAL_NODES } from '../../runtime/policy/consistent-hash.js';
import { createLoadBalancer } from '../../runtime/policy/create-load-balancer.js';
import type { LoadBalancerSettings } from '../../runtime/policy/load-balancer.js';
import { seededRandom } from '../../runtime/policy/random.js';

const keys = (n: number): string[] => Array.from({ length: n }, (_, i) => `10.0.0.${i + 1}:8080`);

function counts(pick: () => number, n: number, times: number): number[] {
  const c = new Array<number>(n).fill(0);
  for (let i = 0; i < times; i++) {
    const k = pick();
    assert.ok(k >= 0 && k < n, `index ${k} out of range`);
    c[k] = (c[k] ?? 0) + 1;
  }
  return c;
}

// One conformance suite for every algorithm: the invariants the proxy relies on.
const all: LoadBalancerSettings[] = [
  { type: 'RoundRobin' },
  { type: 'Random' },
  { type: 'LeastRequest' },
  { type: 'ConsistentHash', hashOn: { header: 'x-user' } },
];

for (const settings of all) {
  describe(`${settings.type} (common)`, () => {
    it('returns -1 for an empty endpoint list', () => {
      assert.equal(createLoadBalancer(settings, [], { random: seededRandom(1) }).pick(), -1);
    });
    it('returns -1 when nothing is eligible', () => {
      const lb = createLoadBalancer(settings, keys(3), { random: seededRandom(1) });
      assert.equal(lb.pick({ eligible: () => false, hashKey: 'u1' }), -1);
    });
    it('never picks an ineligible endpoint', () => {
      const lb = createLoadBalancer(settings, keys(4), { random: seededRandom(2) });
      for (let i = 0; i < 500; i++) {
        const k = lb.pick({ eligible: (j) => j !== 1 && j !== 2, hashKey: i % 3 === 0 ? null : `user-${i}` });
        assert.ok(k === 0 || k === 3, `picked ${k}`);
      }
    });
    it('spreads distinct keys over every endpoint', () => {
      const lb = createLoadBalancer(settings, keys(3), { random: seededRandom(3) });
      let i = 0;
      const c = counts(() => lb.pick({ hashKey: `user-${i++}` }), 3, 3000);
      for (const x of c) assert.ok(x > 700 && x < 1300, `uneven: ${c.join(',')}`);
    });
  });
}

describe('RoundRobin', () => {
  it('gives each endpoint exactly one request per cycle', () => {
    const lb = createLoadBalancer({ type: 'RoundRobin' }, keys(3));
    assert.deepEqual([0, 1, 2, 3, 4, 5].map(() => lb.pick()), [0, 1, 2, 0, 1, 2]);
  });
  it('skips ejected endpoints without starving the next one', () => {
    const lb = createLoadBalancer({ type: 'RoundRobin' }, keys(3));
    const c = counts(() => lb.pick({ eligible: (i) => i !== 0 }), 3, 300);
    assert.equal(c[0], 0);
    assert.ok((c[1] ?? 0) >= 100 && (c[2] ?? 0) >= 100, c.join(','));
  });
});

describe('LeastRequest', () => {
  it('prefers the endpoint with fewer requests in flight', () => {
    const inFlight = [10, 0, 10, 10];
    const lb = createLoadBalancer({ type: 'LeastRequest' }, keys(4), { random: seededRandom(5), inFlight: (i) => inFlight[i] ?? 0 });
    const c = counts(() => lb.pick(), 4, 1000);
    // Endpoint 1 wins whenever it is one of the two draws: P = 1 - (3/4)(2/3) = 1/2.
    assert.ok((c[1] ?? 0) > 420 && (c[1] ?? 0) < 580, c.join(','));
  });
  it('never picks the busiest of two endpoints', () => {
    const lb = createLoadBalancer({ type: 'LeastRequest' }, keys(2), { random: seededRandom(6), inFlight: (i) => (i === 0 ? 5 : 1) });
    assert.deepEqual(counts(() => lb.pick(), 2, 200), [0, 200]);
  });
  it('balances live load: in-flight counts stay close', () => {
    const inFlight = [0, 0, 0, 0, 0];
    const rnd = seededRandom(7);
    const lb = createLoadBalancer({ type: 'LeastRequest' }, keys(5), { random: rnd, inFlight: (i) => inFlight[i] ?? 0 });
    for (let i = 0; i < 5000; i++) {
      const k = lb.pick();
      inFlight[k] = (inFlight[k] ?? 0) + 1;
      // Complete a random in-flight request half of the time.
      if (rnd() < 0.5) {
        const j = Math.floor(rnd() * 5);
        if ((inFlight[j] ?? 0) > 0) inFlight[j] = (inFlight[j] ?? 0) - 1;
      }
    }
    const max = Math.max(...inFlight);
    const min = Math.min(...inFlight);
    assert.ok(max - min <= Math.max(10, 0.2 * max), inFlight.join(','));
  });
});

describe('ConsistentHash', () => {
  it('is sticky: the same key always lands on the same endpoint', () => {
    const lb = createLoadBalancer({ type: 'ConsistentHash', hashOn: { header: 'x-user' } }, keys(5));
    for (let u = 0; u < 50; u++) {
      const first = lb.pick({ hashKey: `user-${u}` });
      for (let i = 0; i < 10; i++) assert.equal(lb.pick({ hashKey: `user-${u}` }), first);
    }
  });

  it('does not depend on endpoint list order', () => {
    const a = new HashRing(keys(6));
    const reversed = keys(6).reverse();
    const b = new HashRing(reversed);
    for (let u = 0; u < 500; u++) {
      const ka = keys(6)[a.lookup(`user-${u}`)];
      const kb = reversed[b.lookup(`user-${u}`)];
      assert.equal(ka, kb);
    }
  });

  it('moves about 1/N of keys when one endpoint is added or removed', () => {
    for (const n of [4, 8, 16]) {
      const before = new HashRing(keys(n));
      const after = new HashRing(keys(n + 1));
      const ks = keys(n + 1);
      let moved = 0;
      const total = 20_000;
      for (let u = 0; u < total; u++) {
        const k = `session-${u}`;
        if (ks[before.lookup(k)] !== ks[after.lookup(k)]) moved++;
      }
      const expected = total / (n + 1);
      assert.ok(moved > expected * 0.6 && moved < expected * 1.4, `n=${n}: moved ${moved}, expected ≈${expected}`);
      // Only keys that now belong to the new endpoint may have moved.
      for (let u = 0; u < total; u++) {
        const k = `session-${u}`;
        const was = ks[before.lookup(k)];
        const is = ks[after.lookup(k)];
        if (was !== is) assert.equal(is, ks[n]);
      }
    }
  });

  it('sends an ejected endpoint\'s keys elsewhere and brings them back', () => {
    const ring = new HashRing(keys(4));
    const home = new Map<string, number>();
    for (let u = 0; u < 1000; u++) home.set(`u${u}`, ring.lookup(`u${u}`));
    let movedOthers = 0;
    for (const [k, h] of home) {
      const now = ring.lookup(k, (i) => i !== 2);
      assert.notEqual(now, 2);
      if (h !== 2 && now !== h) movedOthers++;
    }
    assert.equal(movedOthers, 0, 'keys of healthy endpoints must not move');
    for (const [k, h] of home) assert.equal(ring.lookup(k), h);
  });

  it('places VIRTUAL_NODES points per endpoint, evenly enough', () => {
    const ring = new HashRing(keys(10));
    assert.equal(ring.size, 10 * VIRTUAL_NODES);
    const per = new Array<number>(10).fill(0);
    for (let u = 0; u < 50_000; u++) {
      const i = ring.lookup(`k${u}`);
      per[i] = (per[i] ?? 0) + 1;
    }
    for (const x of per) assert.ok(x > 3500 && x < 6500, per.join(','));
  });

  it('extracts keys from a header (case-insensitive name, first value) or the client address', () => {
    assert.equal(hashKeyFor({ header: 'X-User' }, { 'x-user': 'ann' }, '10.1.1.1'), 'ann');
    assert.equal(hashKeyFor({ header: 'x-user' }, { 'x-user': ['bob', 'eve'] }, null), 'bob');
    assert.equal(hashKeyFor({ header: 'x-user' }, {}, '10.1.1.1'), null);
    assert.equal(hashKeyFor({ clientAddress: true }, {}, '10.1.1.1'), '10.1.1.1');
  });
});
