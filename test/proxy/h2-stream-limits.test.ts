/**
 * How many HTTP/2 streams a connection may hold, with real `weft proxy` processes on loopback
 * (review finding H1): a listener allows H2_MAX_CONCURRENT_STREAMS (100) streams per connection
 * and refuses the next with REFUSED_STREAM; a client that opens 1,000 streams per connection and
 * never finishes their bodies makes the proxy hold at most 100 × one body prefix per connection
 * (before: 1,000, +250 MiB RSS in 30 s from four connections); and a calling proxy opens as many
 * sessions to a peer proxy as 300 concurrent requests need, so none fails or waits for another.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Agent, request } from 'undici';
import { H2_MAX_CONCURRENT_STREAMS } from '../../runtime/proxy/listener.js';
import { bundle, service, spec } from '../helpers/bundle-builder.js';
import { flood, type Flood } from '../helpers/h2-flood.js';
import { removeDir, spawnProxy, tempDir, waitFor, within, writeBundle, type ProxyProcess } from '../helpers/proxy-harness.js';

const { NGHTTP2_REFUSED_STREAM } = http2.constants;

/** rssMiB is the resident set of process `pid` (Linux /proc). */
function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) / 1024;
}

function portOf(addr: string): number {
  return Number(addr.slice(addr.lastIndexOf(':') + 1));
}

describe('HTTP/2 listener: concurrent streams per connection', () => {
  let dir: string;
  let p: ProxyProcess;
  const floods: Flood[] = [];

  before(async () => {
    dir = tempDir();
    const file = path.join(dir, 'bundle.json');
    // Bodies never end, so nothing is ever forwarded: the endpoint need not exist.
    writeBundle(file, bundle(spec([service('api', { endpoints: ['127.0.0.1:9'] }), service('me')])));
    p = await spawnProxy(['--service', 'me', '--bundle', file]);
  });
  after(async () => {
    for (const f of floods) f.close();
    await p.stop();
    await removeDir(dir);
  });

  it(`announces ${H2_MAX_CONCURRENT_STREAMS} and refuses the 101st open stream with REFUSED_STREAM`, async () => {
    const f = flood({ port: portOf(p.outbound), streams: H2_MAX_CONCURRENT_STREAMS + 1, bytes: 10, authority: 'api' });
    floods.push(f);
    await within(f.connected, 10_000, "the listener's SETTINGS");
    assert.equal(f.stats.maxConcurrentStreams, H2_MAX_CONCURRENT_STREAMS);
    await waitFor(() => (f.stats.resets.get(NGHTTP2_REFUSED_STREAM) ?? 0) >= 1, 10_000, 'a stream refused');
    assert.deepEqual([...f.stats.resets], [[NGHTTP2_REFUSED_STREAM, 1]], 'exactly one stream refused, none reset otherwise');
    assert.equal(f.stats.open, H2_MAX_CONCURRENT_STREAMS, 'the first 100 are held open');
    assert.equal(f.stats.responses, 0, 'the held streams are still waiting for their bodies');
    assert.equal(f.stats.closed, false, 'the connection stays open');
    f.close();
  });

  it('a flood of 4 connections × 1,000 never-finished bodies: the proxy holds at most 100 streams per connection, and its RSS grows by less than that bound', async () => {
    const connections = 4;
    const bytes = 60_000;
    const start = rssMiB(p.child.pid!);
    const fs = Array.from({ length: connections }, () => flood({ port: portOf(p.outbound), streams: 1_000, bytes, authority: 'api' }));
    floods.push(...fs);
    const held = connections * H2_MAX_CONCURRENT_STREAMS * bytes;
    // Every admitted stream's body fits in its window, so the flood ends when each has sent all of it.
    await waitFor(() => fs.reduce((a, f) => a + f.stats.sent, 0) >= held, 60_000, `${held} body bytes accepted`);
    const refused = fs.reduce((a, f) => a + (f.stats.resets.get(NGHTTP2_REFUSED_STREAM) ?? 0), 0);
    assert.equal(refused, connections * (1_000 - H2_MAX_CONCURRENT_STREAMS), 'every stream past 100 per connection refused');
    // A short settle, bounded, so that all accepted bytes have reached the proxy's heap.
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(
      fs.reduce((a, f) => a + f.stats.sent, 0),
      held,
      'no more bytes accepted',
    );
    const grown = rssMiB(p.child.pid!) - start;
    // The bound from the settings: per connection 100 streams × (the 64 KiB body prefix read
    // before routing + one 64 KiB stream window), plus 32 MiB for the heap's own growth. Before
    // the limit the same flood held 229 MiB of bodies alone.
    const bound = (connections * H2_MAX_CONCURRENT_STREAMS * 2 * 65_536) / 1_048_576 + 32;
    assert.ok(grown < bound, `RSS grew ${grown.toFixed(0)} MiB, bound ${bound.toFixed(0)} MiB`);
    for (const f of fs) f.close();
  });
});

describe('a calling proxy opens more HTTP/2 sessions to a peer proxy as its streams fill up', () => {
  const N = 300;
  let dir: string;
  let app: http.Server;
  let caller: ProxyProcess;
  let peer: ProxyProcess;
  let client: Agent;
  /** Requests the app holds until all N are there (or a bounded 20 s pass), then answers. */
  const held: http.ServerResponse[] = [];
  let most = 0;

  before(async () => {
    dir = tempDir();
    app = http.createServer((req, res) => {
      req.resume();
      held.push(res);
      most = Math.max(most, held.length);
      if (held.length === N) for (const r of held.splice(0)) r.end('ok');
    });
    app.keepAliveTimeout = 1_000;
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    const appPort = (app.address() as AddressInfo).port;
    const peerFile = path.join(dir, 'peer.json');
    writeBundle(peerFile, bundle(spec([service('api'), service('me')])));
    peer = await spawnProxy(['--service', 'api', '--bundle', peerFile, '--inbound', '127.0.0.1:0', '--app', `http://127.0.0.1:${appPort}`]);
    const callerFile = path.join(dir, 'caller.json');
    // The peer's inbound is a meshed endpoint: HTTP/2 (h2c, no identity here).
    writeBundle(callerFile, bundle(spec([service('api', { endpoints: [{ address: '127.0.0.1', port: portOf(peer.inbound!), labels: {}, meshed: true }] }), service('me')])));
    caller = await spawnProxy(['--service', 'me', '--bundle', callerFile]);
    client = new Agent({ connections: N, keepAliveTimeout: 1_000 });
  });
  after(async () => {
    for (const r of held.splice(0)) r.end();
    await client.close();
    await caller.stop();
    await peer.stop();
    app.closeAllConnections();
    await within(new Promise((r) => app.close(r)), 10_000, 'the app to close');
    await removeDir(dir);
  });

  it(`${N} concurrent requests through the two-proxy chain all succeed, all at the app at once`, async () => {
    const release = setTimeout(() => {
      for (const r of held.splice(0)) r.end('late');
    }, 20_000);
    try {
      const rs = await within(
        Promise.all(
          Array.from({ length: N }, async (_, i) => {
            const r = await request(`http://${caller.outbound}/r/${i}`, { headers: { host: 'api' }, dispatcher: client, headersTimeout: 30_000, bodyTimeout: 30_000 });
            return { status: r.statusCode, text: await r.body.text(), error: r.headers['weft-error'] };
          }),
        ),
        40_000,
        `${N} requests through the chain`,
      );
      const failed = rs.filter((r) => r.status !== 200 || r.text !== 'ok');
      assert.deepEqual(failed.slice(0, 3), [], `${failed.length} of ${N} failed or waited for the 20 s release`);
      assert.equal(most, N, `the app held all ${N} at once: the caller carried them on ${Math.ceil(N / H2_MAX_CONCURRENT_STREAMS)}+ sessions`);
    } finally {
      clearTimeout(release);
    }
  });
});
