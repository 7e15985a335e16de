/**
 * How many HTTP/2 streams a connection may hold, with real `weft proxy` processes on loopback
 * (review finding H1): a listener allows H2_MAX_CONCURRENT_STREAMS (100) streams per connection
 * and refuses the next with REFUSED_STREAM; a client that opens 1,000 streams per connection and
 * never finishes their bodies makes the proxy hold at most 100 × one body prefix per connection
 * (before: 1,000, +250 MiB RSS in 30 s from four connections), and a process holds at most
 * MAX_PENDING_REQUEST_BODIES (256) such bodies over all its connections, refusing new streams
 * with a body past it; and a calling proxy opens as many
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
import { MAX_PENDING_REQUEST_BODIES } from '../../runtime/proxy/body.js';
import { H2SessionSet } from '../../runtime/proxy/h2-sessions.js';
import { H2_MAX_CONCURRENT_STREAMS } from '../../runtime/proxy/listener.js';
import { bundle, service, spec } from '../helpers/bundle-builder.js';
import { flood, type Flood } from '../helpers/h2-flood.js';
import { getJson, getText, metricValue, removeDir, spawnProxy, tempDir, waitFor, within, writeBundle, type ProxyProcess } from '../helpers/proxy-harness.js';

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

  /** pending is the proxy's count of request bodies being read before routing (/config). */
  const pending = async (): Promise<{ reading: number; limit: number }> => (await getJson<{ pendingRequestBodies: { reading: number; limit: number } }>(p.admin, '/config')).pendingRequestBodies;

  /**
   * floodAndMeasure opens `connections` flood connections of 1,000 streams with 60,000-byte
   * never-finished bodies, waits until the proxy has taken all it will (`admitted` streams' bodies)
   * and returns the RSS growth (MiB) and what the flood saw.
   */
  async function floodAndMeasure(connections: number, admitted: number): Promise<{ grown: number; refused: number }> {
    const bytes = 60_000;
    await waitFor(async () => (await pending()).reading === 0, 10_000, 'no body left pending from the last test');
    const start = rssMiB(p.child.pid!);
    const fs = Array.from({ length: connections }, () => flood({ port: portOf(p.outbound), streams: 1_000, bytes, authority: 'api' }));
    floods.push(...fs);
    const sent = (): number => fs.reduce((a, f) => a + f.openBytes(), 0);
    // Every admitted stream's body fits in its window, so the flood ends when each has sent all of it.
    await waitFor(() => sent() >= admitted * bytes, 60_000, `${admitted} bodies accepted`);
    await waitFor(async () => (await pending()).reading === admitted, 10_000, `${admitted} bodies pending`);
    assert.equal(sent(), admitted * bytes, 'the streams held have sent their whole bodies, and only they are open');
    const grown = rssMiB(p.child.pid!) - start;
    const refused = fs.reduce((a, f) => a + (f.stats.resets.get(NGHTTP2_REFUSED_STREAM) ?? 0), 0);
    assert.equal(refused, connections * 1_000 - admitted, 'every stream past the bounds refused, unprocessed');
    for (const f of fs) f.close();
    return { grown, refused };
  }

  /**
   * rssBound is what the settings allow `streams` held streams: each the 64 KiB body prefix
   * read before routing + one 64 KiB stream window, plus 32 MiB for the heap's own growth.
   */
  const rssBound = (streams: number): number => (streams * 2 * 65_536) / 1_048_576 + 32;

  it('a flood of 2 connections × 1,000 never-finished bodies: the proxy holds 100 streams per connection, and its RSS grows by less than that bound', async () => {
    const { grown } = await floodAndMeasure(2, 2 * H2_MAX_CONCURRENT_STREAMS);
    // Before the limit the same flood held 1,000 streams per connection: 114 MiB of bodies alone.
    assert.ok(grown < rssBound(2 * H2_MAX_CONCURRENT_STREAMS), `RSS grew ${grown.toFixed(0)} MiB, bound ${rssBound(2 * H2_MAX_CONCURRENT_STREAMS).toFixed(0)} MiB`);
  });

  it(`a flood over 4 connections: past ${MAX_PENDING_REQUEST_BODIES} bodies pending in the process, new streams with a body are refused (REFUSED_STREAM, counted); RSS stays within that bound`, async () => {
    const before = metricValue(await getText(p.admin, '/metrics'), 'weft_listener_refused_total', { listener: 'outbound', reason: 'maxPendingRequestBodies' });
    const { grown, refused } = await floodAndMeasure(4, MAX_PENDING_REQUEST_BODIES);
    assert.ok(grown < rssBound(MAX_PENDING_REQUEST_BODIES), `RSS grew ${grown.toFixed(0)} MiB, bound ${rssBound(MAX_PENDING_REQUEST_BODIES).toFixed(0)} MiB`);
    const after = metricValue(await getText(p.admin, '/metrics'), 'weft_listener_refused_total', { listener: 'outbound', reason: 'maxPendingRequestBodies' });
    // At least the 144 streams the connections admitted past the process bound; more when a
    // refusal freed a connection's slot for one of the flood's later streams.
    assert.ok(after - before >= 4 * H2_MAX_CONCURRENT_STREAMS - MAX_PENDING_REQUEST_BODIES && after - before <= refused, `${after - before} refused for the process bound, ${refused} in all`);
    // Once the flood is gone its bodies are no longer pending: a request with a body is served again.
    await waitFor(async () => (await pending()).reading === 0, 10_000, "the flood's bodies released");
    const client = http2.connect(`http://${p.outbound}`);
    try {
      const status = await within(
        new Promise<number>((resolve, reject) => {
          const st = client.request({ ':method': 'POST', ':path': '/', ':authority': 'api' });
          st.on('response', (h) => resolve(Number(h[':status'])));
          st.on('error', reject);
          st.end('body');
        }),
        10_000,
        'an answer to a POST after the flood',
      );
      // The endpoint (port 9) is closed: the proxy's own answer, not a refused stream.
      assert.ok(status >= 500, `status ${status}`);
    } finally {
      client.close();
    }
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

describe('H2SessionSet: sessions per peer follow its SETTINGS_MAX_CONCURRENT_STREAMS', () => {
  it('a peer that allows 2 streams per connection: 5 held streams go on 3 sessions, none refused', async () => {
    const server = http2.createServer({ settings: { maxConcurrentStreams: 2 } });
    const held: http2.ServerHttp2Stream[] = [];
    server.on('stream', (st, headers) => {
      st.on('error', () => {});
      if (headers[':path'] === '/first') {
        st.respond({ ':status': 200 });
        st.end();
        return;
      }
      held.push(st);
      if (held.length === 5) for (const h of held) h.respond({ ':status': 200 }, { endStream: true });
    });
    server.on('session', (s) => s.on('error', () => {}));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const key = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const set = new H2SessionSet();
    const get = (target: string): Promise<{ status: number; rstCode: number | undefined }> =>
      within(
        new Promise((resolve) => {
          const st = set.request(key, { ':path': target, ':method': 'GET', ':authority': 'up', ':scheme': 'http' }, { endStream: true });
          let status = 0;
          st.on('response', (h) => (status = Number(h[':status'])));
          st.on('error', () => {});
          st.resume();
          st.on('close', () => resolve({ status, rstCode: st.rstCode }));
        }),
        10_000,
        `the stream for ${target} to close`,
      );
    try {
      // The first stream brings the peer's SETTINGS (2); later sessions assume what it said.
      assert.equal((await get('/first')).status, 200);
      const rs = Promise.all([1, 2, 3, 4, 5].map((i) => get(`/held/${i}`)));
      assert.equal(set.sessionsFor(key), 3, '2 + 2 + 1 streams');
      assert.deepEqual(
        (await rs).map((r) => `${r.status} ${r.rstCode ?? ''}`),
        Array(5).fill('200 0'),
        'all answered, none refused',
      );
    } finally {
      await within(set.close(2_000), 10_000, 'the session set to close');
      await within(new Promise((r) => server.close(r)), 10_000, 'the server to close');
    }
  });
});
