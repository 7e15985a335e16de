/**
 * HTTP/2 streams the upstream never processed (RFC 9113 §8.7 REFUSED_STREAM; §6.8 streams above
 * the last-stream-id of a GOAWAY), through a real `weft proxy` to a real node:http2 server on
 * loopback. Such a stream is sent once more on another session, whatever the route's retry
 * policy: the client gets the answer, weft_upstream_transparent_retries_total counts it, and no
 * route retry or attempt is counted for it. A request whose body was streamed cannot be sent
 * again: 502 WEFT_UPSTREAM_UNPROCESSED; nor is a second refused stream: one transparent retry.
 * Below, the session set itself: a session this side retires takes no new stream, and the streams
 * already on it finish (before the fix, closing it at once sent GOAWAY ahead of their HEADERS and
 * the peer refused them).
 */
import assert from 'node:assert/strict';
import http2, { type ClientHttp2Stream, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { H2SessionSet } from '../../runtime/proxy/h2-sessions.js';
import { bundle, service, spec } from '../helpers/bundle-builder.js';
import { call, getText, metricValue, removeDir, spawnProxy, tempDir, within, writeBundle, type ProxyProcess } from '../helpers/proxy-harness.js';

const { NGHTTP2_ENHANCE_YOUR_CALM, NGHTTP2_NO_ERROR, NGHTTP2_REFUSED_STREAM } = http2.constants;

/**
 * An h2c upstream. Every answer names the session it came on (`s<n>`). `/refuse-first/*` refuses
 * the first stream of each path, `/refuse/*` refuses every stream, `/goaway/*` streams are held
 * on the first session that gets one until three are there, then that session sends GOAWAY with
 * the first one's id as last-stream-id and answers it (the two above it are not processed);
 * `/goaway-calm/*` likewise with the error code ENHANCE_YOUR_CALM, which makes the client drop the
 * whole connection at once, the first stream (which the server may have processed) included.
 */
async function startUpstream(): Promise<{ server: http2.Http2Server; port: number; seen: Map<string, number>; sessions: Set<ServerHttp2Session> }> {
  const seen = new Map<string, number>();
  const sessions = new Set<ServerHttp2Session>();
  const numbers = new WeakMap<ServerHttp2Session, number>();
  let count = 0;
  // Per GOAWAY path prefix: the session that holds its streams, and the streams held.
  const goaway = new Map<string, { session: ServerHttp2Session; held: ServerHttp2Stream[] }>();
  const server = http2.createServer();
  server.on('session', (s: ServerHttp2Session) => {
    sessions.add(s);
    numbers.set(s, ++count);
    s.on('close', () => sessions.delete(s));
    s.on('error', () => {});
  });
  const answer = (st: ServerHttp2Stream): void => {
    if (st.destroyed) return;
    st.respond({ ':status': 200 });
    st.end(`s${numbers.get(st.session as ServerHttp2Session)}`);
  };
  server.on('stream', (st: ServerHttp2Stream, headers) => {
    st.on('error', () => {});
    const p = String(headers[':path']);
    const n = (seen.get(p) ?? 0) + 1;
    seen.set(p, n);
    st.resume(); // read (and drop) any request body
    if (p.startsWith('/refuse/') || (p.startsWith('/refuse-first/') && n === 1)) {
      st.close(NGHTTP2_REFUSED_STREAM);
      return;
    }
    const prefix = p.startsWith('/goaway/') ? '/goaway/' : p.startsWith('/goaway-calm/') ? '/goaway-calm/' : null;
    if (prefix !== null) {
      const session = st.session as ServerHttp2Session;
      let g = goaway.get(prefix);
      if (g === undefined) goaway.set(prefix, (g = { session, held: [] }));
      if (session === g.session) {
        const held = g.held;
        held.push(st);
        if (held.length === 3) {
          session.goaway(prefix === '/goaway/' ? NGHTTP2_NO_ERROR : NGHTTP2_ENHANCE_YOUR_CALM, held[0]!.id!);
          setImmediate(() => answer(held[0]!));
        }
        return;
      }
    }
    answer(st);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port, seen, sessions };
}

describe('HTTP/2 streams the upstream never processed', () => {
  let up: Awaited<ReturnType<typeof startUpstream>>;
  let p: ProxyProcess;
  let dir: string;
  const metrics = async (): Promise<string> => getText(p.admin, '/metrics');

  before(async () => {
    up = await startUpstream();
    dir = tempDir();
    const file = path.join(dir, 'bundle.json');
    // Two Services on the same meshed endpoint (HTTP/2, h2c: the proxy has no identity here):
    // `peer` has a route with a retry policy, `plain` has none.
    const endpoints = [{ address: '127.0.0.1', port: up.port, labels: {}, meshed: true as const }];
    writeBundle(
      file,
      bundle(
        spec([
          service('peer', { endpoints, producer: [{ route: 'all', matches: [{ path: { type: 'PathPrefix', value: '/' } }], retry: { attempts: 2, codes: [503], backoffMs: 1 }, backends: [{ service: 'peer' }] }] }),
          service('plain', { endpoints }),
          service('me', { endpoints: [] }),
        ]),
      ),
    );
    p = await spawnProxy(['--service', 'me', '--bundle', file]);
  });
  after(async () => {
    await p.stop();
    for (const s of up.sessions) s.destroy();
    await within(new Promise((r) => up.server.close(r)), 10_000, 'the upstream server to close');
    await removeDir(dir);
  });

  it('a refused stream is sent again on another session: 200, counted as a transparent retry, not as a route retry', async () => {
    const before = await metrics();
    const r = await call(p.outbound, 'peer', '/refuse-first/a');
    assert.equal(r.status, 200, r.text);
    assert.equal(up.seen.get('/refuse-first/a'), 2, 'the upstream saw the refused stream and the retry');
    const after = await metrics();
    const delta = (name: string, labels: Record<string, string> = {}): number => metricValue(after, name, labels) - metricValue(before, name, labels);
    assert.equal(delta('weft_upstream_transparent_retries_total', { backend: 'default/peer', reason: 'REFUSED_STREAM' }), 1);
    assert.equal(delta('weft_retries_total'), 0, 'no route retry was made');
    assert.equal(delta('weft_upstream_attempts_total', { backend: 'default/peer' }), 1, 'one attempt, as the route sees it');
  });

  it('the retry goes on a new session, so the refusing one gets no new stream', async () => {
    const first = await call(p.outbound, 'plain', '/ok/1');
    const r = await call(p.outbound, 'plain', '/refuse-first/b');
    assert.equal(r.status, 200, r.text);
    assert.notEqual(r.text, first.text, `the retry came on another session than the one that refused (${first.text})`);
  });

  it('streams above the last-stream-id of a GOAWAY are sent again: all three requests get 200', async () => {
    const before = await metrics();
    const rs = await Promise.all([1, 2, 3].map((i) => call(p.outbound, 'plain', `/goaway/${i}`)));
    assert.deepEqual(
      rs.map((r) => r.status),
      [200, 200, 200],
      rs.map((r) => r.text).join(' | '),
    );
    assert.equal(new Set(rs.map((r) => r.text)).size, 2, `one answer on the GOAWAY session, two on a new one (${rs.map((r) => r.text).join(', ')})`);
    const after = await metrics();
    assert.equal(metricValue(after, 'weft_upstream_transparent_retries_total', { reason: 'GOAWAY' }) - metricValue(before, 'weft_upstream_transparent_retries_total', { reason: 'GOAWAY' }), 2);
  });

  it('a GOAWAY with an error code: the streams above its last-stream-id are sent again, the one the peer may have processed is not', async () => {
    const before = await metrics();
    const rs = await Promise.all([1, 2, 3].map((i) => call(p.outbound, 'plain', `/goaway-calm/${i}`)));
    const codes = rs.map((r) => `${r.status} ${r.headers['weft-error'] ?? ''}`.trim()).sort();
    assert.deepEqual(codes, ['200', '200', '502 WEFT_UPSTREAM_RESET'], rs.map((r) => r.text).join(' | '));
    const after = await metrics();
    assert.equal(metricValue(after, 'weft_upstream_transparent_retries_total', { reason: 'GOAWAY' }) - metricValue(before, 'weft_upstream_transparent_retries_total', { reason: 'GOAWAY' }), 2);
  });

  it('one transparent retry only: a stream refused twice is 502 WEFT_UPSTREAM_UNPROCESSED', async () => {
    const r = await call(p.outbound, 'plain', '/refuse/c');
    assert.equal(r.status, 502, r.text);
    assert.equal(r.headers['weft-error'], 'WEFT_UPSTREAM_UNPROCESSED');
    assert.match(r.text, /REFUSED_STREAM, on a second connection too/);
    assert.equal(up.seen.get('/refuse/c'), 2, 'the refused stream and one retry');
  });

  it('a streamed (large) body is not sent again: 502 WEFT_UPSTREAM_UNPROCESSED says why', async () => {
    const before = await metrics();
    const r = await call(p.outbound, 'plain', '/refuse/big', { method: 'POST', body: Buffer.alloc(200 * 1024, 120) });
    assert.equal(r.status, 502, r.text);
    assert.equal(r.headers['weft-error'], 'WEFT_UPSTREAM_UNPROCESSED');
    assert.match(r.text, /body was streamed/);
    assert.equal(up.seen.get('/refuse/big'), 1, 'not sent again');
    assert.equal(metricValue(await metrics(), 'weft_upstream_transparent_retries_total') - metricValue(before, 'weft_upstream_transparent_retries_total'), 0);
  });

  it('a kept (small) body is sent again whole', async () => {
    const r = await call(p.outbound, 'plain', '/refuse-first/post', { method: 'POST', body: 'small body' });
    assert.equal(r.status, 200, r.text);
    assert.equal(up.seen.get('/refuse-first/post'), 2);
  });

  it('the route may still retry the unprocessed reply (502, retriable), each attempt with its one transparent retry', async () => {
    const before = await metrics();
    const r = await call(p.outbound, 'peer', '/refuse/d');
    assert.equal(r.status, 502, r.text);
    assert.equal(r.headers['weft-error'], 'WEFT_UPSTREAM_UNPROCESSED');
    assert.equal(up.seen.get('/refuse/d'), 6, 'three attempts (the route allows two retries), two streams each');
    const after = await metrics();
    assert.equal(metricValue(after, 'weft_retries_total', { reason: 'WEFT_UPSTREAM_UNPROCESSED' }) - metricValue(before, 'weft_retries_total', { reason: 'WEFT_UPSTREAM_UNPROCESSED' }), 2);
    assert.equal(metricValue(after, 'weft_upstream_transparent_retries_total', { backend: 'default/peer' }) - metricValue(before, 'weft_upstream_transparent_retries_total', { backend: 'default/peer' }), 3);
  });
});

/** get asks for `target` on the set's session for `key` and resolves with the status and body. */
function get(set: H2SessionSet, key: string, target: string): Promise<{ status: number; body: string; rstCode: number | undefined }> {
  const st: ClientHttp2Stream = set.request(key, { ':path': target, ':method': 'GET', ':authority': 'up', ':scheme': 'http' }, { endStream: true });
  return within(
    new Promise((resolve) => {
      let status = 0;
      let body = '';
      st.on('response', (h) => (status = Number(h[':status'])));
      st.setEncoding('utf8');
      st.on('data', (d: string) => (body += d));
      st.on('error', () => {});
      st.on('close', () => resolve({ status, body, rstCode: st.rstCode }));
    }),
    10_000,
    `the stream for ${target} to close`,
  );
}

describe('H2SessionSet: a session this side retires', () => {
  let up: Awaited<ReturnType<typeof startUpstream>>;
  let key: string;
  before(async () => {
    up = await startUpstream();
    key = `http://127.0.0.1:${up.port}`;
  });
  after(async () => {
    for (const s of up.sessions) s.destroy();
    await within(new Promise((r) => up.server.close(r)), 10_000, 'the upstream server to close');
  });

  it('finishes the streams already on it, even those opened in the same tick, and takes no new one', async () => {
    const set = new H2SessionSet();
    try {
      const first = await get(set, key, '/ok/first');
      assert.equal(first.status, 200);
      // Streams opened, then the session retired before their HEADERS were written.
      const a = get(set, key, '/ok/a');
      const b = get(set, key, '/ok/b');
      set.retain(new Set());
      const [ra, rb] = await Promise.all([a, b]);
      assert.deepEqual([ra.status, ra.body, rb.status, rb.body], [200, first.body, 200, first.body], `both finished on the retired session (rst ${ra.rstCode}, ${rb.rstCode})`);
      const c = await get(set, key, '/ok/c');
      assert.equal(c.status, 200);
      assert.notEqual(c.body, first.body, 'a new request goes on a new session');
    } finally {
      await within(set.close(2_000), 10_000, 'the session set to close');
    }
  });

  it('a session retired while still connecting sends its pending streams once connected', async () => {
    const set = new H2SessionSet();
    try {
      const a = get(set, key, '/ok/pending');
      set.retain(new Set());
      const ra = await a;
      assert.equal(ra.status, 200, `rst ${ra.rstCode}`);
    } finally {
      await within(set.close(2_000), 10_000, 'the session set to close');
    }
  });
});
