/**
 * Reload under load, through real `weft proxy` processes: the bundle file is swapped many times
 * (atomic rename; Kubernetes ConfigMap symlink swap) while clients keep sending requests.
 * Zero requests may fail, and once /config acknowledges a digest no request that starts later
 * may be routed by an older table. Every generation's rule stamps `x-gen` on the response, and
 * alternates the upstream endpoints so pools are created, kept, drained and closed.
 */
import assert from 'node:assert/strict';
import { mkdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Bundle } from '../../schemas/bundle.js';
import { bundle, service, spec } from '../helpers/bundle-builder.js';
import { agent, call, getJson, spawnProxy, startEcho, tempDir, waitFor, waitForDigest, writeAtomic, type Echo, type ProxyProcess } from '../helpers/proxy-harness.js';

function generation(n: number, a: Echo, b: Echo): Bundle {
  const eps = [[`127.0.0.1:${a.port}`], [`127.0.0.1:${b.port}`], [`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`]][n % 3]!;
  return bundle(
    spec([
      service('up', { endpoints: eps }),
      service('web', {
        producer: [{ matches: [{ path: { type: 'PathPrefix', value: '/' } }], filters: [{ type: 'ResponseHeaderModifier', modifier: { set: [{ name: 'x-gen', value: String(n) }], add: [], remove: [] } }], backends: [{ service: 'up' }] }],
      }),
    ]),
  );
}

interface Sample {
  start: number;
  status: number;
  gen: number;
  error: string | null;
}

/**
 * underLoad swaps `swaps` generations while 12 clients keep sending, and after each
 * acknowledgement waits until PER_GENERATION requests have started on the new table before the
 * next swap: the workload is a number of requests, never a rate, so a slow machine only takes
 * longer (requests per second under reload are measured by bench:reload).
 */
const PER_GENERATION = 40;

async function underLoad(p: ProxyProcess, a: Echo, b: Echo, publish: (text: string) => void, swaps: number): Promise<void> {
  const samples: Sample[] = [];
  const acks: { gen: number; at: number }[] = [];
  let running = true;
  const worker = async (): Promise<void> => {
    while (running) {
      const start = performance.now();
      try {
        const r = await call(p.outbound, 'web', '/x');
        samples.push({ start, status: r.status, gen: Number(r.headers['x-gen'] ?? -1), error: r.status === 200 ? null : r.text });
      } catch (err) {
        samples.push({ start, status: 0, gen: -1, error: (err as Error).message });
      }
    }
  };
  const workers = Array.from({ length: 12 }, () => worker());
  for (let n = 1; n <= swaps; n++) {
    const bn = generation(n, a, b);
    publish(JSON.stringify(bn));
    await waitForDigest(p.admin, bn.digest);
    const at = performance.now();
    acks.push({ gen: n, at });
    await waitFor(() => samples.filter((s) => s.start > at).length >= PER_GENERATION, 30_000, `${PER_GENERATION} requests on generation ${n}`);
  }
  running = false;
  await Promise.all(workers);

  process.stderr.write(`reload: ${samples.length} requests, ${acks.length} swaps acknowledged\n`);
  const failed = samples.filter((s) => s.status !== 200);
  assert.equal(failed.length, 0, `failed requests: ${JSON.stringify(failed.slice(0, 3))}`);
  assert.equal(acks.length, swaps, 'every swap acknowledged');
  for (const ack of acks) {
    const stale = samples.filter((s) => s.start > ack.at && s.gen < ack.gen);
    assert.equal(stale.length, 0, `${stale.length} requests started after gen ${ack.gen} was acknowledged were routed by an older table`);
  }
}

describe('reload under load', () => {
  let a: Echo;
  let b: Echo;
  const procs: ProxyProcess[] = [];
  before(async () => {
    a = await startEcho('a');
    b = await startEcho('b');
  });
  after(async () => {
    for (const p of procs) await p.stop();
    await Promise.all([a.close(), b.close()]);
    await agent.close();
  });

  it('atomic rename: zero failures, no stale routing after acknowledgement', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'bundle.json');
    const g0 = generation(0, a, b);
    writeAtomic(file, JSON.stringify(g0));
    const p = await spawnProxy(['--service', 'client', '--bundle', file]);
    procs.push(p);
    await underLoad(p, a, b, (t) => writeAtomic(file, t), 25);
    // Pools follow the endpoints: after a generation with only `a`, b's pool is closed.
    const only = generation(3, a, b);
    writeAtomic(file, JSON.stringify(only));
    await waitForDigest(p.admin, only.digest);
    await call(p.outbound, 'web', '/x');
    const cfg = await getJson<{ pools: string[] }>(p.admin, '/config');
    assert.deepEqual(cfg.pools, [`http://127.0.0.1:${a.port}`]);
  });

  it('ConfigMap symlink swap: zero failures, no stale routing after acknowledgement', async () => {
    const dir = tempDir();
    let n = 0;
    const publish = (text: string): void => {
      const ts = `..2026_${n++}`;
      mkdirSync(path.join(dir, ts));
      writeFileSync(path.join(dir, ts, 'bundle.json'), text);
      symlinkSync(ts, path.join(dir, '..data_tmp'));
      renameSync(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
    };
    publish(JSON.stringify(generation(0, a, b)));
    symlinkSync(path.join('..data', 'bundle.json'), path.join(dir, 'bundle.json'));
    const p = await spawnProxy(['--service', 'client', '--bundle', path.join(dir, 'bundle.json')]);
    procs.push(p);
    await underLoad(p, a, b, publish, 25);
  });

  it('a rejected bundle changes nothing and /config and metrics say why; the cache serves a restart', async () => {
    const dir = tempDir();
    const cache = tempDir();
    const file = path.join(dir, 'bundle.json');
    const g = generation(7, a, b);
    writeAtomic(file, JSON.stringify(g));
    const p = await spawnProxy(['--service', 'client', '--bundle', file, '--cache-dir', cache]);
    procs.push(p);
    const tampered = JSON.parse(JSON.stringify(generation(8, a, b))) as Bundle;
    tampered.spec.services[0]!.endpoints = [{ address: '127.0.0.1', port: 1, labels: {} }];
    writeAtomic(file, JSON.stringify(tampered));
    type Config = { active: { digest: string; from: string } | null; lastRejection: { code: string; reason: string } | null };
    let cfg: Config | null = null;
    for (let i = 0; i < 250; i++) {
      cfg = await getJson<Config>(p.admin, '/config');
      if (cfg.lastRejection) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(cfg?.lastRejection?.code, 'WEFT_BUNDLE_DIGEST');
    assert.equal(cfg?.active?.digest, g.digest);
    assert.equal((await call(p.outbound, 'web', '/')).headers['x-gen'], '7');
    const metrics = (await call(p.admin, p.admin, '/metrics')).text;
    assert.match(metrics, /weft_reloads_total\{result="rejected"\} 1/);
    assert.match(metrics, new RegExp(`weft_bundle_info\\{digest="${g.digest}",revision=""\\} 1`));

    // restart with the source file gone: the cached bundle is served
    await p.stop();
    writeAtomic(file, 'not json at all');
    const q = await spawnProxy(['--service', 'client', '--bundle', path.join(dir, 'missing.json'), '--cache-dir', cache]);
    procs.push(q);
    const c2 = await getJson<Config>(q.admin, '/config');
    assert.equal(c2.active?.digest, g.digest);
    assert.match(c2.active?.from ?? '', /^cache:/);
    assert.equal((await call(q.outbound, 'web', '/')).headers['x-gen'], '7');
  });

  it('/ready is 503 until a bundle is active, requests get 503 meanwhile', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'bundle.json');
    const p = await spawnProxy(['--service', 'client', '--bundle', file]);
    procs.push(p);
    assert.equal((await call(p.admin, p.admin, '/ready')).status, 503);
    const r = await call(p.outbound, 'web', '/');
    assert.equal(r.status, 503);
    assert.match(r.text, /WEFT_NOT_READY/);
    const g = generation(1, a, b);
    writeAtomic(file, JSON.stringify(g));
    await waitForDigest(p.admin, g.digest);
    assert.equal((await call(p.admin, p.admin, '/ready')).status, 200);
  });
});
