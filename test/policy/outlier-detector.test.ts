import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../runtime/policy/clock.js';
import { MAX_EJECTION_MS, OutlierDetector, type OutlierSettings } from '../../runtime/policy/outlier-detector.js';

const settings: OutlierSettings = { consecutiveErrors: 3, intervalMs: 10_000, baseEjectionTimeMs: 30_000, maxEjectionPercent: 50 };

function failN(d: OutlierDetector, key: string, n: number): void {
  for (let i = 0; i < n; i++) d.record(key, false);
}

describe('OutlierDetector', () => {
  it('ejects after consecutiveErrors failures in a row and returns after baseEjectionTime', () => {
    const clock = new ManualClock(1000);
    const ejections: [string, number][] = [];
    const d = new OutlierDetector(settings, clock.now, ['a', 'b'], (e, ms) => ejections.push([e, ms]));
    failN(d, 'a', 2);
    assert.equal(d.isEjected('a'), false);
    d.record('a', false);
    assert.equal(d.isEjected('a'), true);
    assert.deepEqual(ejections, [['a', 30_000]]);
    clock.advance(29_999);
    assert.equal(d.isEjected('a'), true);
    clock.advance(1);
    assert.equal(d.isEjected('a'), false);
  });

  it('a success resets the count', () => {
    const clock = new ManualClock();
    const d = new OutlierDetector(settings, clock.now, ['a', 'b']);
    failN(d, 'a', 2);
    d.record('a', true);
    failN(d, 'a', 2);
    assert.equal(d.isEjected('a'), false);
  });

  it('ejection time grows with times ejected, capped at MAX_EJECTION_MS', () => {
    const clock = new ManualClock(1);
    const durations: number[] = [];
    const d = new OutlierDetector({ ...settings, intervalMs: 1_000_000_000 }, clock.now, ['a', 'b'], (_, ms) => durations.push(ms));
    for (let i = 0; i < 12; i++) {
      failN(d, 'a', 3);
      clock.advance(MAX_EJECTION_MS);
    }
    assert.deepEqual(durations.slice(0, 4), [30_000, 60_000, 90_000, 120_000]);
    assert.equal(Math.max(...durations), MAX_EJECTION_MS);
  });

  it('the multiplier decays by one per interval spent healthy', () => {
    const clock = new ManualClock(1);
    const durations: number[] = [];
    const d = new OutlierDetector(settings, clock.now, ['a', 'b'], (_, ms) => durations.push(ms));
    failN(d, 'a', 3); // 30 s
    clock.advance(30_000);
    failN(d, 'a', 3); // back at once: 60 s
    clock.advance(60_000 + 25_000); // healthy 25 s: decays 2 intervals, to 0
    failN(d, 'a', 3);
    assert.deepEqual(durations, [30_000, 60_000, 30_000]);
  });

  it('never ejects more than maxEjectionPercent of endpoints', () => {
    const clock = new ManualClock(1);
    const d = new OutlierDetector(settings, clock.now, ['a', 'b', 'c', 'd']);
    for (const k of ['a', 'b', 'c', 'd']) failN(d, k, 10);
    assert.equal(d.ejectedCount(), 2);
    // Two endpoints, 50%: one may go, the last healthy one never.
    const two = new OutlierDetector(settings, clock.now, ['a', 'b']);
    failN(two, 'a', 3);
    failN(two, 'b', 30);
    assert.equal(two.isEjected('a'), true);
    assert.equal(two.isEjected('b'), false);
    // Once a returns, b (still failing) can be ejected.
    clock.advance(30_000);
    two.record('b', false);
    assert.equal(two.isEjected('b'), true);
  });

  it('ejects one endpoint even when maxEjectionPercent rounds to none, never the last', () => {
    const clock = new ManualClock(1);
    const d = new OutlierDetector({ ...settings, maxEjectionPercent: 10 }, clock.now, ['a', 'b', 'c']);
    for (const k of ['a', 'b', 'c']) failN(d, k, 10);
    assert.equal(d.ejectedCount(), 1);
    const single = new OutlierDetector({ ...settings, maxEjectionPercent: 100 }, clock.now, ['a']);
    failN(single, 'a', 10);
    assert.equal(single.isEjected('a'), true, '100% allows all');
    const lone = new OutlierDetector({ ...settings, maxEjectionPercent: 50 }, clock.now, ['a']);
    failN(lone, 'a', 10);
    assert.equal(lone.isEjected('a'), false);
    const off = new OutlierDetector({ ...settings, maxEjectionPercent: 0 }, clock.now, ['a', 'b']);
    failN(off, 'a', 10);
    assert.equal(off.isEjected('a'), false);
  });

  it('ignores results reported while ejected', () => {
    const clock = new ManualClock(1);
    const d = new OutlierDetector(settings, clock.now, ['a', 'b', 'c']);
    failN(d, 'a', 3);
    failN(d, 'a', 100);
    clock.advance(30_000);
    assert.equal(d.isEjected('a'), false);
    failN(d, 'a', 2);
    assert.equal(d.isEjected('a'), false);
  });

  it('keeps state of persisting endpoints across setEndpoints and forgets removed ones', () => {
    const clock = new ManualClock(1);
    const d = new OutlierDetector(settings, clock.now, ['a', 'b', 'c']);
    failN(d, 'a', 3);
    failN(d, 'c', 2);
    d.setEndpoints(['a', 'b', 'd']);
    assert.equal(d.isEjected('a'), true);
    assert.deepEqual(
      d.snapshot().map((h) => [h.endpoint, h.ejected, h.consecutiveErrors]),
      [
        ['a', true, 0],
        ['b', false, 0],
        ['d', false, 0],
      ],
    );
    d.record('c', false); // removed: ignored, no throw
    assert.equal(d.isEjected('zzz'), false);
  });

  it('snapshot shows the return time and counts', () => {
    const clock = new ManualClock(500);
    const d = new OutlierDetector(settings, clock.now, ['a', 'b']);
    failN(d, 'a', 3);
    const [a] = d.snapshot();
    assert.deepEqual(a, { endpoint: 'a', ejected: true, ejectedUntilMs: 30_500, timesEjected: 1, consecutiveErrors: 0, totalEjections: 1 });
  });
});
