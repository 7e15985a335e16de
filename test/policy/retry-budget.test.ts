import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../runtime/policy/clock.js';
import { RetryBudget } from '../../runtime/policy/retry-budget.js';
import { SlidingWindowCounter } from '../../runtime/policy/sliding-window.js';

describe('SlidingWindowCounter', () => {
  it('counts events in the window and forgets them after it', () => {
    const c = new SlidingWindowCounter(1000, 10);
    c.add(0, 5);
    c.add(450, 2);
    assert.equal(c.total(900), 7);
    assert.equal(c.total(1050), 2); // the bucket [0,100) left
    assert.equal(c.total(1500), 0);
    c.add(10_000);
    assert.equal(c.total(10_000), 1);
  });
});

describe('RetryBudget', () => {
  it('allows retries up to percent of requests over the window', () => {
    const clock = new ManualClock(0);
    const b = new RetryBudget({ percent: 20, minRetriesPerSecond: 0, intervalMs: 10_000 }, clock.now);
    for (let i = 0; i < 100; i++) b.recordRequest();
    let allowed = 0;
    for (let i = 0; i < 100; i++) if (b.tryRetry()) allowed++;
    assert.equal(allowed, 20);
  });

  it('allows minRetriesPerSecond even with no traffic, per second', () => {
    const clock = new ManualClock(0);
    const b = new RetryBudget({ percent: 20, minRetriesPerSecond: 10, intervalMs: 10_000 }, clock.now);
    let allowed = 0;
    for (let i = 0; i < 50; i++) if (b.tryRetry()) allowed++;
    assert.equal(allowed, 10);
    clock.advance(1000);
    for (let i = 0; i < 50; i++) if (b.tryRetry()) allowed++;
    assert.equal(allowed, 20);
  });

  it('caps a retry storm under a fully failing backend: retries ≤ percent × requests + floor', () => {
    const clock = new ManualClock(0);
    const b = new RetryBudget({ percent: 20, minRetriesPerSecond: 10, intervalMs: 10_000 }, clock.now);
    let requests = 0;
    let retries = 0;
    // 20 s at 200 requests/s, every request wants 3 retries.
    for (let ms = 0; ms < 20_000; ms += 5) {
      clock.set(ms);
      b.recordRequest();
      requests++;
      for (let k = 0; k < 3; k++) if (b.tryRetry()) retries++;
    }
    const bound = 0.2 * requests + 10 * 20;
    assert.ok(retries <= bound, `${retries} retries > ${bound}`);
    assert.ok(retries >= 0.2 * requests * 0.8, `budget unused: ${retries}`);
  });

  it('regains budget as old retries leave the window', () => {
    const clock = new ManualClock(0);
    const b = new RetryBudget({ percent: 50, minRetriesPerSecond: 0, intervalMs: 1000 }, clock.now);
    b.recordRequest();
    b.recordRequest();
    assert.equal(b.tryRetry(), true);
    assert.equal(b.tryRetry(), false);
    clock.advance(1500);
    assert.equal(b.tryRetry(), false); // requests left too
    b.recordRequest();
    b.recordRequest();
    assert.equal(b.tryRetry(), true);
    assert.deepEqual(b.snapshot(), { requests: 2, retries: 1, retriesLastSecond: 1 });
  });

  it('setSettings keeps counts when the window is unchanged', () => {
    const clock = new ManualClock(0);
    const b = new RetryBudget({ percent: 10, minRetriesPerSecond: 0, intervalMs: 10_000 }, clock.now);
    for (let i = 0; i < 10; i++) b.recordRequest();
    assert.equal(b.tryRetry(), true);
    assert.equal(b.tryRetry(), false);
    b.setSettings({ percent: 20, minRetriesPerSecond: 0, intervalMs: 10_000 });
    assert.equal(b.tryRetry(), true);
    assert.equal(b.tryRetry(), false);
  });
});
