/**
 * InstanceRegistry and EndpointCatalog as plain values with a hand-driven clock: leases, what
 * counts as a change, bounds, versions, warming.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InstanceRegistry } from '../../runtime/discovery/registry.js';
import { EndpointCatalog } from '../../runtime/discovery/catalog.js';

const reviews = { service: 'reviews', namespace: 'default' };
const ep = (port: number, ready = true, labels: Record<string, string> = {}) => ({ address: '127.0.0.1', port, labels, ready, instance: `i-${port}` });

describe('InstanceRegistry', () => {
  it('holds an instance for one lease after its last renewal, then sweeps it', () => {
    let now = 1_000;
    const r = new InstanceRegistry({ leaseMs: 15_000, now: () => now });
    const changes: string[][] = [];
    r.subscribe((ids) => changes.push([...ids]));
    assert.deepEqual(r.register(reviews, ep(9001)), { ok: true, changed: true });
    now += 10_000;
    assert.deepEqual(r.register(reviews, ep(9001)), { ok: true, changed: false }, 'a renewal alone changes nothing callers see');
    now += 14_000;
    assert.equal(r.sweep(), 0, 'renewed 14 s ago: still leased');
    now += 1_001;
    assert.equal(r.sweep(), 1);
    assert.deepEqual(r.endpointsOf('default/reviews'), []);
    assert.deepEqual(changes, [['default/reviews'], ['default/reviews']]);
  });

  it('reports readiness, label and instance changes, and deregistration', () => {
    const r = new InstanceRegistry();
    let n = 0;
    r.subscribe(() => n++);
    r.register(reviews, ep(9001));
    r.register(reviews, ep(9001, false));
    r.register(reviews, ep(9001, false, { version: 'v2' }));
    r.register(reviews, { ...ep(9001, false, { version: 'v2' }), instance: 'restarted' });
    assert.equal(n, 4);
    assert.equal(r.endpointsOf('default/reviews')[0]?.meshed, true, 'registered endpoints are meshed');
    assert.equal(r.deregister(reviews, '127.0.0.1', 9001), true);
    assert.equal(r.deregister(reviews, '127.0.0.1', 9001), false);
    assert.equal(r.deregister({ service: 'ratings', namespace: 'default' }, '127.0.0.1', 9001), false);
    assert.equal(n, 5);
    assert.equal(r.size, 0);
  });

  it('keeps Services apart: a registrant only ever adds to its own Service', () => {
    const r = new InstanceRegistry();
    r.register(reviews, ep(9001));
    r.register({ service: 'ratings', namespace: 'shop' }, ep(9001));
    assert.equal(r.deregister({ service: 'ratings', namespace: 'shop' }, '127.0.0.1', 9001), true);
    assert.equal(r.endpointsOf('default/reviews').length, 1);
    assert.deepEqual([...r.serviceIds()], ['default/reviews']);
  });

  it('is bounded in total and per Service', () => {
    const r = new InstanceRegistry({ maxInstances: 3, maxPerService: 2 });
    assert.equal(r.register(reviews, ep(1)).ok, true);
    assert.equal(r.register(reviews, ep(2)).ok, true);
    const third = r.register(reviews, ep(3));
    assert.equal(third.ok, false);
    assert.match(third.ok ? '' : third.reason, /limit per Service/);
    assert.equal(r.register(reviews, ep(2)).ok, true, 'renewing at the limit still works');
    assert.equal(r.register({ service: 'ratings', namespace: 'default' }, ep(1)).ok, true);
    const full = r.register({ service: 'details', namespace: 'default' }, ep(1));
    assert.equal(full.ok, false);
    assert.equal(r.size, 3);
  });
});

describe('EndpointCatalog', () => {
  it('versions a set by content: equal sets have equal versions, any change a new one', () => {
    const a = new InstanceRegistry();
    const b = new InstanceRegistry();
    const ca = new EndpointCatalog({ providers: [a] });
    const cb = new EndpointCatalog({ providers: [b] });
    try {
      a.register(reviews, ep(9001));
      a.register(reviews, ep(9002));
      b.register(reviews, ep(9002));
      b.register(reviews, ep(9001));
      assert.equal(ca.set('default/reviews').version, cb.set('default/reviews').version, 'order of registration does not matter');
      assert.deepEqual(ca.set('default/reviews').endpoints.map((e) => e.port), [9001, 9002]);
      const before = ca.set('default/reviews').version;
      a.register(reviews, ep(9002, false));
      assert.notEqual(ca.set('default/reviews').version, before);
      assert.equal(ca.set('default/reviews').endpoints[1]?.ready, false);
      assert.notEqual(ca.set('default/ratings').version, ca.set('default/reviews').version, 'empty sets of different Services differ');
    } finally {
      ca.close();
      cb.close();
    }
  });

  it('merges providers, the first one naming an address winning', () => {
    const first = new InstanceRegistry();
    const second = new InstanceRegistry();
    const c = new EndpointCatalog({ providers: [first, second] });
    try {
      first.register(reviews, ep(9001, true));
      second.register(reviews, ep(9001, false));
      second.register(reviews, ep(9002, true));
      assert.deepEqual(c.set('default/reviews').endpoints.map((e) => [e.port, e.ready]), [[9001, true], [9002, true]]);
      assert.deepEqual(c.serviceIds(), ['default/reviews']);
    } finally {
      c.close();
    }
  });

  it('serves sets as incomplete while warming, and complete afterwards', () => {
    let now = 0;
    const r = new InstanceRegistry({ now: () => now });
    const c = new EndpointCatalog({ providers: [r], now: () => now });
    try {
      c.warm(15_000);
      assert.equal(c.set('default/reviews').complete, false, 'armed: incomplete before any instance is heard');
      c.touch();
      r.register(reviews, ep(9001));
      const warm = c.set('default/reviews');
      assert.equal(warm.complete, false);
      now = 15_000;
      r.register(reviews, ep(9002));
      const done = c.set('default/reviews');
      assert.equal(done.complete, true);
      assert.notEqual(done.version, warm.version);
    } finally {
      c.close();
    }
  });
});
