/**
 * `weft proxy --concurrency N` (issue 16): N worker processes share the listeners; the primary's
 * admin listener sums their metrics and says ready when every worker is; SIGTERM stops them all
 * and the primary exits 0. Real processes, a real upstream on loopback; every wait is bounded.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { bundle, service, spec } from '../helpers/bundle-builder.js';
import { getJson, getText, metricValue, spawnProxy, startApp, tempDir, waitFor, within, writeBundle, type App, type ProxyProcess } from '../helpers/proxy-harness.js';

/** fresh sends one request on a new connection (so the primary hands it to the next worker). */
function fresh(addr: string, path: string): Promise<number> {
  const i = addr.lastIndexOf(':');
  return within(
    new Promise<number>((resolve, reject) => {
      const req = http.request({ host: addr.slice(0, i), port: Number(addr.slice(i + 1)), path, agent: false, headers: { host: 'up', connection: 'close' } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end();
    }),
    10_000,
    `an answer to ${path}`,
  );
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('weft proxy --concurrency 2', () => {
  let app: App;
  let proxy: ProxyProcess;

  before(async () => {
    app = await startApp('up');
    const file = `${tempDir('weft-concurrency-')}/bundle.json`;
    writeBundle(file, bundle(spec([service('up', { endpoints: [`127.0.0.1:${app.port}`], producer: [{ route: 'all', backends: [{ service: 'up' }] }] })])));
    proxy = await spawnProxy(['--service', 'client', '--bundle', file, '--concurrency', '2']);
  });

  after(async () => {
    await proxy?.stop();
    await app?.close();
  });

  it('serves through both workers and sums their metrics on the admin listener', async () => {
    const config = await getJson<{ concurrency: number; ready: boolean; workers: { pid: number; ready: boolean; config: { active: { digest: string } | null; steps: { outbound: string[] } } | null }[] }>(proxy.admin, '/config');
    assert.equal(config.concurrency, 2);
    assert.equal(config.workers.length, 2);
    assert.notEqual(config.workers[0]!.pid, config.workers[1]!.pid);
    // Each worker shows its own /config document: the same bundle active in both.
    const digests = config.workers.map((w) => w.config?.active?.digest);
    assert.match(String(digests[0]), /^sha256:/);
    assert.equal(digests[0], digests[1]);
    assert.ok(config.workers.every((w) => (w.config?.steps.outbound.length ?? 0) > 0), 'each lists its pipeline steps');
    const statuses = [];
    for (let i = 0; i < 40; i++) statuses.push(await fresh(proxy.outbound, `/r/${i}`));
    assert.deepEqual(new Set(statuses), new Set([200]));
    assert.equal(app.seen.length, 40);
    const metrics = await getText(proxy.admin, '/metrics');
    assert.equal(metricValue(metrics, 'weft_requests_total', { direction: 'outbound', code: '200' }), 40);
    assert.equal(metricValue(metrics, 'weft_request_duration_seconds_count', { direction: 'outbound' }), 40);
    assert.equal(await getText(proxy.admin, '/ready'), 'ready\n');
    // The primary's admin listener is on loopback: a rebound name gets 421, not the documents.
    const rebound = await request(`http://${proxy.admin}/config`, { headers: { host: 'evil.example' }, headersTimeout: 10_000, bodyTimeout: 10_000 });
    assert.equal(rebound.statusCode, 421);
    assert.doesNotMatch(await rebound.body.text(), /"workers"/);
  });

  it('SIGTERM stops every worker and the primary exits 0', async () => {
    const { workers } = await getJson<{ workers: { pid: number }[] }>(proxy.admin, '/config');
    const exited = within(new Promise<number | null>((resolve) => proxy.child.once('exit', (code) => resolve(code))), 20_000, 'the primary to exit after SIGTERM');
    proxy.child.kill('SIGTERM');
    assert.equal(await exited, 0);
    await waitFor(() => workers.every((w) => !alive(w.pid)), 10_000, 'both workers to exit');
  });
});
