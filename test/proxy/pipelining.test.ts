/**
 * HTTP/1.1 pipelining through a real `weft proxy` process. node:http emits every pipelined
 * request as soon as it is parsed (it queues only the responses), so one connection that wrote
 * 20,000 GETs made the proxy start them all at once: 1,081 concurrent upstream requests from one
 * client connection in the review of 2026-11-30, around maxConnections and every pool bound. Now a
 * pipelined request starts when the one before it is answered, and a client that queues more
 * than 32 is disconnected and counted. Assertions are on counts and order, never on time.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { bundle, service, spec } from '../helpers/bundle-builder.js';
import { getText, metricValue, raw, removeDir, spawnProxy, tempDir, within, writeBundle, type ProxyProcess } from '../helpers/proxy-harness.js';

/** A slow app (answers each request 30 ms after it arrives) that records its peak concurrency. */
async function startCountingApp(): Promise<{ server: http.Server; port: number; stats: { inflight: number; peak: number; total: number } }> {
  const stats = { inflight: 0, peak: 0, total: 0 };
  const server = http.createServer((req, res) => {
    stats.inflight++;
    stats.total++;
    stats.peak = Math.max(stats.peak, stats.inflight);
    req.resume();
    setTimeout(() => {
      stats.inflight--;
      res.end(`answer ${req.url}`);
    }, 30);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port, stats };
}

describe('HTTP/1.1 pipelining', () => {
  let app: Awaited<ReturnType<typeof startCountingApp>>;
  let p: ProxyProcess;
  let dir: string;

  before(async () => {
    app = await startCountingApp();
    dir = tempDir();
    const file = path.join(dir, 'bundle.json');
    writeBundle(file, bundle(spec([service('app', { endpoints: [`127.0.0.1:${app.port}`] }), service('me', { endpoints: [] })])));
    p = await spawnProxy(['--service', 'me', '--bundle', file]);
  });
  after(async () => {
    await p.stop();
    app.server.closeAllConnections();
    await new Promise((r) => app.server.close(r));
    await removeDir(dir);
  });

  it('pipelined requests are answered in order, one at a time upstream', async () => {
    const n = 10;
    let bytes = '';
    for (let i = 0; i < n; i++) bytes += `GET /p/${i} HTTP/1.1\r\nHost: app\r\n${i === n - 1 ? 'Connection: close\r\n' : ''}\r\n`;
    const before = app.stats.total;
    const out = await within(raw(p.outbound, bytes, 5_000), 30_000, 'the pipelined answers');
    const answers = [...out.matchAll(/answer (\/p\/\d+)/g)].map((m) => m[1]);
    assert.deepEqual(answers, Array.from({ length: n }, (_, i) => `/p/${i}`), out);
    assert.equal((out.match(/HTTP\/1\.1 200 /g) ?? []).length, n);
    assert.equal(app.stats.total - before, n);
    assert.equal(app.stats.peak, 1, 'the app never had two of them at once');
  });

  it('a client that pipelines more than 32 requests is disconnected, counted, and starts at most one upstream', async () => {
    const peakBefore = app.stats.peak;
    const bytes = 'GET /flood HTTP/1.1\r\nHost: app\r\n\r\n'.repeat(200);
    const out = await within(raw(p.outbound, bytes, 5_000), 30_000, 'the proxy to close the flooding connection');
    assert.ok((out.match(/HTTP\/1\.1 /g) ?? []).length < 200, 'the connection was closed before all were answered');
    assert.ok(app.stats.peak <= Math.max(1, peakBefore), `at most one request at a time reached the app (peak ${app.stats.peak})`);
    const metrics = await getText(p.admin, '/metrics');
    assert.ok(metricValue(metrics, 'weft_listener_refused_total', { listener: 'outbound', reason: 'pipelining' }) >= 1, metrics.split('\n').filter((l) => l.includes('refused')).join('\n'));
  });
});
