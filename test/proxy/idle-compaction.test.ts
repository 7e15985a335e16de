/**
 * Idle compaction (runtime/proxy/idle-compaction.ts): after an activation the proxy collects its
 * heap once, and only when its event loop was quiet; a busy proxy is retried, never stopped, and
 * gives up after its attempts until the next activation; a collection that left V8's young
 * generation large (an allocation burst just before it) is repeated after the next quiet window.
 * The last case runs V8's real collection.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { IdleCompaction } from '../../runtime/proxy/idle-compaction.js';
import type { Logger } from '../../runtime/log.js';
import { waitFor } from '../helpers/proxy-harness.js';

function recorder(): Logger & { lines: { msg: string; fields: Record<string, unknown> }[] } {
  const lines: { msg: string; fields: Record<string, unknown> }[] = [];
  return { lines, log: (_level, msg, fields) => void lines.push({ msg, fields: fields ?? {} }) };
}

describe('idle compaction', () => {
  it('collects once, after the delay, when the event loop was quiet, and logs what it returned', async () => {
    const logger = recorder();
    let collections = 0;
    const c = new IdleCompaction({ logger, delayMs: 5, gc: () => void collections++, utilization: () => 0.01 });
    c.schedule();
    await waitFor(() => c.runs === 1, 10_000, 'the collection');
    assert.equal(collections, 1);
    assert.equal(logger.lines.length, 1);
    assert.equal(logger.lines[0]!.msg, 'heap compacted');
    assert.deepEqual(Object.keys(logger.lines[0]!.fields).sort(), ['heapTotalMiB', 'ms', 'rssMiB']);
  });

  it('does not collect while the proxy is busy: retries up to maxAttempts, then waits for the next activation', async () => {
    const logger = recorder();
    let collections = 0;
    let checks = 0;
    let busy = true;
    const c = new IdleCompaction({ logger, delayMs: 5, retryMs: 5, maxAttempts: 3, gc: () => void collections++, utilization: () => (checks++, busy ? 0.5 : 0) });
    c.schedule();
    await waitFor(() => checks === 3, 10_000, 'three busy checks');
    // Given up: no further check is scheduled (the next one would come 5 ms later).
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(checks, 3);
    assert.equal(collections, 0);
    busy = false;
    c.schedule();
    await waitFor(() => c.runs === 1, 10_000, 'the collection after the next activation');
    assert.equal(collections, 1);
    c.stop();
  });

  it('collects again after the next quiet window when a collection left the young generation large, and logs once', async () => {
    const logger = recorder();
    let collections = 0;
    const settled = [false, true];
    const c = new IdleCompaction({ logger, delayMs: 5, retryMs: 5, gc: () => void collections++, utilization: () => 0, settled: () => settled[collections - 1] ?? true });
    c.schedule();
    await waitFor(() => logger.lines.length === 1, 10_000, 'the log line after the second collection');
    assert.equal(collections, 2);
    assert.equal(c.runs, 2);
    assert.equal(logger.lines[0]!.msg, 'heap compacted');
  });

  it('logs after its last attempt even when the young generation never settles', async () => {
    const logger = recorder();
    let collections = 0;
    const c = new IdleCompaction({ logger, delayMs: 5, retryMs: 5, maxAttempts: 3, gc: () => void collections++, utilization: () => 0, settled: () => false });
    c.schedule();
    await waitFor(() => logger.lines.length === 1, 10_000, 'the log line after the last attempt');
    assert.equal(collections, 3);
  });

  it('a new activation replaces the pending wait, and stop() cancels it', async () => {
    let collections = 0;
    let checks = 0;
    const c = new IdleCompaction({ logger: recorder(), delayMs: 20, gc: () => void collections++, utilization: () => (checks++, 0) });
    c.schedule();
    c.schedule();
    await waitFor(() => c.runs === 1, 10_000, 'one collection');
    c.schedule();
    c.stop();
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(checks, 1);
    assert.equal(collections, 1);
  });

  it("runs V8's own full collection in a process started without --expose-gc, leaving the global scope unchanged", async () => {
    const c = new IdleCompaction({ logger: recorder(), delayMs: 1, utilization: () => 0 });
    assert.equal(c.available, true);
    assert.equal('gc' in globalThis, process.execArgv.includes('--expose-gc'));
    let garbage: unknown[] | null = Array.from({ length: 100_000 }, (_, i) => ({ i }));
    const ref = new WeakRef(garbage);
    garbage = null;
    c.schedule();
    await waitFor(() => c.runs === 1, 10_000, 'the collection');
    assert.equal(ref.deref(), undefined, 'the collection freed an unreachable array');
    assert.equal('gc' in globalThis, process.execArgv.includes('--expose-gc'));
  });
});
