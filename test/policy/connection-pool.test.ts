import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConnectionPools, EndpointLimiter, type Lease } from '../../runtime/policy/connection-pool.js';

async function leaseOf(p: Promise<import('../../runtime/policy/connection-pool.js').AcquireResult>): Promise<Lease> {
  const r = await p;
  assert.ok(r.ok, `expected a lease, got ${JSON.stringify(r)}`);
  return r.lease;
}

describe('EndpointLimiter', () => {
  it('admits up to maxConnections, queues up to maxPendingRequests, rejects the rest at once', async () => {
    const l = new EndpointLimiter({ maxConnections: 2, maxPendingRequests: 1 });
    const a = await leaseOf(l.acquire());
    const b = await leaseOf(l.acquire());
    assert.equal(l.inFlight, 2);
    let queuedDone = false;
    const queued = l.acquire().then((r) => {
      queuedDone = true;
      return r;
    });
    assert.equal(l.pending, 1);
    assert.deepEqual(await l.acquire(), { ok: false, reason: 'pool-overflow' });
    await Promise.resolve();
    assert.equal(queuedDone, false);
    a.release();
    const r = await queued;
    assert.ok(r.ok);
    assert.equal(l.inFlight, 2);
    assert.equal(l.pending, 0);
    b.release();
    r.lease.release();
    assert.equal(l.inFlight, 0);
  });

  it('release is idempotent', async () => {
    const l = new EndpointLimiter({ maxConnections: 1, maxPendingRequests: 0 });
    const a = await leaseOf(l.acquire());
    a.release();
    a.release();
    assert.equal(l.inFlight, 0);
  });

  it('serves waiters in FIFO order and skips aborted ones', async () => {
    const l = new EndpointLimiter({ maxConnections: 1, maxPendingRequests: 3 });
    const first = await leaseOf(l.acquire());
    const order: string[] = [];
    const ac = new AbortController();
    const w1 = l.acquire().then((r) => (order.push('w1'), r));
    const w2 = l.acquire(ac.signal).then((r) => (order.push('w2'), r));
    const w3 = l.acquire().then((r) => (order.push('w3'), r));
    ac.abort();
    assert.deepEqual(await w2, { ok: false, reason: 'aborted' });
    assert.equal(l.pending, 2);
    first.release();
    const r1 = await w1;
    assert.ok(r1.ok);
    r1.lease.release();
    const r3 = await w3;
    assert.ok(r3.ok);
    assert.deepEqual(order, ['w2', 'w1', 'w3']);
    r3.lease.release();
    assert.equal(l.inFlight, 0);
    assert.equal(l.pending, 0);
  });

  it('does not let a newcomer jump the queue', async () => {
    const l = new EndpointLimiter({ maxConnections: 1, maxPendingRequests: 5 });
    const a = await leaseOf(l.acquire());
    const w = l.acquire();
    a.release();
    // The slot went to the waiter, so a new request must wait or fail, not take it.
    assert.equal(l.tryAcquire(), null);
    const r = await w;
    assert.ok(r.ok);
  });

  it('without limits admits everything and still counts', async () => {
    const l = new EndpointLimiter(null);
    const leases = await Promise.all(Array.from({ length: 50 }, () => leaseOf(l.acquire())));
    assert.equal(l.inFlight, 50);
    for (const x of leases) x.release();
    assert.equal(l.inFlight, 0);
  });

  it('raising the limit on reload admits waiters; lowering it lets in-flight finish', async () => {
    const l = new EndpointLimiter({ maxConnections: 1, maxPendingRequests: 2 });
    const a = await leaseOf(l.acquire());
    const w = l.acquire();
    l.setLimits({ maxConnections: 2, maxPendingRequests: 2 });
    const r = await w;
    assert.ok(r.ok);
    l.setLimits({ maxConnections: 1, maxPendingRequests: 0 });
    assert.equal(l.inFlight, 2);
    assert.deepEqual(await l.acquire(), { ok: false, reason: 'pool-overflow' });
    a.release();
    assert.deepEqual(await l.acquire(), { ok: false, reason: 'pool-overflow' });
    r.lease.release();
    assert.ok((await l.acquire()).ok);
  });

  it('keeps the queue bounded under a flood', async () => {
    const l = new EndpointLimiter({ maxConnections: 1, maxPendingRequests: 10 });
    await leaseOf(l.acquire());
    const attempts = Array.from({ length: 1000 }, () => l.acquire());
    assert.equal(l.pending, 10);
    const rest = await Promise.all(attempts.slice(10));
    assert.ok(rest.every((r) => !r.ok && r.reason === 'pool-overflow'));
    assert.equal(l.pending, 10);
  });
});

describe('ConnectionPools', () => {
  it('keeps limiters of endpoints that persist and drops idle removed ones', async () => {
    const pools = new ConnectionPools({ maxConnections: 1, maxPendingRequests: 0 });
    const a = await leaseOf(pools.limiter('a:1').acquire());
    await leaseOf(pools.limiter('b:1').acquire()).then((l) => l.release());
    pools.update({ maxConnections: 1, maxPendingRequests: 0 }, ['a:1']);
    assert.equal(pools.inFlight('a:1'), 1);
    assert.deepEqual(pools.snapshot().map((s) => s.endpoint), ['a:1']);
    a.release();
    pools.update(null, []);
    assert.deepEqual(pools.snapshot(), []);
  });
});
