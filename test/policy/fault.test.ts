import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decideFault } from '../../runtime/policy/fault.js';
import { seededRandom } from '../../runtime/policy/random.js';

describe('decideFault', () => {
  it('no fault spec parts: never fires', () => {
    assert.deepEqual(decideFault({ delay: null, abort: null }, () => 0), { delayMs: 0, abortStatus: null });
  });

  it('0% never and 100% always, whatever the draw', () => {
    for (const r of [0, 0.5, 0.999999]) {
      assert.deepEqual(decideFault({ delay: { ms: 10, percent: 0 }, abort: { status: 503, percent: 0 } }, () => r), { delayMs: 0, abortStatus: null });
      assert.deepEqual(decideFault({ delay: { ms: 10, percent: 100 }, abort: { status: 503, percent: 100 } }, () => r), { delayMs: 10, abortStatus: 503 });
    }
  });

  it('fires each part with its own percentage, independently', () => {
    const rnd = seededRandom(42);
    const spec = { delay: { ms: 5, percent: 50 }, abort: { status: 500, percent: 10 } };
    let delayed = 0;
    let aborted = 0;
    let both = 0;
    const n = 20_000;
    for (let i = 0; i < n; i++) {
      const d = decideFault(spec, rnd);
      if (d.delayMs > 0) delayed++;
      if (d.abortStatus === 500) aborted++;
      if (d.delayMs > 0 && d.abortStatus !== null) both++;
    }
    assert.ok(Math.abs(delayed / n - 0.5) < 0.02, `delayed ${delayed}`);
    assert.ok(Math.abs(aborted / n - 0.1) < 0.01, `aborted ${aborted}`);
    assert.ok(Math.abs(both / n - 0.05) < 0.01, `both ${both}`);
  });

  it('fractional percentages work', () => {
    const rnd = seededRandom(7);
    let aborted = 0;
    for (let i = 0; i < 100_000; i++) if (decideFault({ delay: null, abort: { status: 429, percent: 0.5 } }, rnd).abortStatus !== null) aborted++;
    assert.ok(aborted > 350 && aborted < 650, `aborted ${aborted}`);
  });
});
