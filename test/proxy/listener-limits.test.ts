/**
 * Listener limits through a real `weft proxy` process (issue 13 items 3-6): duplicate Host, the
 * request-header count, MeshConfig spec.proxy (requestHeadersTimeout, streamIdleTimeout,
 * maxConnections, maxRequestHeadersBytes/Count, maxResponseHeadersBytes) applied on reload, each
 * expiry with its own status and code, and an upstream's oversized response head. Timeouts are
 * set short in the bundle; assertions are on status and code, never on elapsed time.
 */
import assert from 'node:assert/strict';
import { connect as h2connect } from 'node:http2';
import { connect, type Socket } from 'node:net';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { MeshProxySettings } from '../../schemas/bundle.js';
import { DEFAULT_PROXY_SETTINGS } from '../../schemas/proxy-settings.js';
import { bundle, service, spec } from '../helpers/bundle-builder.js';
import { h2Frame } from '../helpers/h2-flood.js';
import { agent, call, getText, raw, spawnProxy, startEcho, tempDir, waitForDigest, within, writeBundle, type Echo, type ProxyProcess } from '../helpers/proxy-harness.js';

/**
 * trickle sends `head` and then one body byte every 100 ms (never idle long enough for the
 * stream idle timeout) until the proxy closes the connection; resolves everything it wrote back.
 * Bounded: after `ms` the client gives up and resolves what it has (so a proxy without a deadline
 * fails the assertion instead of hanging the run).
 */
function trickle(addr: string, head: string, ms = 8_000): Promise<string> {
  const i = addr.lastIndexOf(':');
  return new Promise((resolve) => {
    const s = connect(Number(addr.slice(i + 1)), addr.slice(0, i));
    let out = '';
    const tick = setInterval(() => {
      if (s.writable) s.write('a');
    }, 100);
    const give = setTimeout(() => s.destroy(), ms);
    s.on('data', (d: Buffer) => (out += d.toString('latin1')));
    s.on('error', () => {});
    s.on('close', () => {
      clearInterval(tick);
      clearTimeout(give);
      resolve(out);
    });
    s.write(head);
  });
}

/**
 * heldOpen writes `bytes` on a fresh connection and waits, without sending more, for the server
 * to close it. Resolves true when the server closed it within `ms`, false when the client gave up
 * first (a server that holds such connections forever fails the assertion, never hangs the run).
 */
function closedByServer(addr: string, bytes: Buffer, ms = 5_000): Promise<boolean> {
  const i = addr.lastIndexOf(':');
  return new Promise((resolve) => {
    const s = connect(Number(addr.slice(i + 1)), addr.slice(0, i));
    let gaveUp = false;
    const give = setTimeout(() => {
      gaveUp = true;
      s.destroy();
    }, ms);
    s.on('data', () => {});
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(give);
      resolve(!gaveUp);
    });
    s.write(bytes);
  });
}

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const EMPTY_SETTINGS = h2Frame(0x4, 0, 0, Buffer.alloc(0));

describe('listener limits (issue 13 items 3-6)', () => {
  let up: Echo;
  let app: Echo;
  let p: ProxyProcess;
  let dir: string;
  /** publish writes a bundle with these spec.proxy limits and waits until the proxy runs it. */
  let publish: (limits: Partial<MeshProxySettings> | null) => Promise<void>;

  before(async () => {
    up = await startEcho('up');
    app = await startEcho('app');
    dir = tempDir();
    const file = path.join(dir, 'bundle.json');
    publish = async (limits) => {
      const b = bundle(spec([service('up', { endpoints: [`127.0.0.1:${up.port}`] }), service('me', { endpoints: [] })], limits ? { proxy: { ...DEFAULT_PROXY_SETTINGS, ...limits } } : {}));
      writeBundle(file, b);
      if (p) await waitForDigest(p.admin, b.digest);
    };
    await publish(null);
    p = await spawnProxy(['--service', 'me', '--bundle', file, '--inbound', '127.0.0.1:0', '--app', `http://127.0.0.1:${app.port}`]);
  });
  after(async () => {
    await p.stop();
    await Promise.all([up.close(), app.close()]);
    await agent.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('two Host headers → 400 WEFT_DUPLICATE_HOST, nothing forwarded (RFC 9112 §3.2)', async () => {
    const started = up.started;
    const out = await raw(p.outbound, 'GET /dup HTTP/1.1\r\nHost: up\r\nHost: evil.example\r\n\r\n');
    assert.match(out, /^HTTP\/1.1 400/);
    assert.match(out, /WEFT_DUPLICATE_HOST/);
    assert.equal(up.started, started);
    const inb = await raw(p.inbound!, 'GET /dup HTTP/1.1\r\nHost: me\r\nhost: me\r\n\r\n');
    assert.match(inb, /^HTTP\/1.1 400[^]*WEFT_DUPLICATE_HOST/, 'the inbound listener too');
  });

  it('more request headers than maxRequestHeadersCount (default 100) → 431, never a truncated request', async () => {
    const started = up.started;
    let head = 'POST /many HTTP/1.1\r\nHost: up\r\n';
    for (let i = 0; i < 100; i++) head += `x-h${i}: 1\r\n`;
    const out = await raw(p.outbound, `${head}Content-Length: 5\r\n\r\nhello`);
    assert.match(out, /^HTTP\/1.1 431[^]*WEFT_HEADERS_TOO_LARGE[^]*maxRequestHeadersCount 100/);
    assert.equal(up.started, started, 'nothing forwarded');
  });

  it('limits apply on reload: 2,100 headers then a body reach the app whole once the limits allow them', async () => {
    await publish({ maxRequestHeadersCount: 5000, maxRequestHeadersBytes: 64 * 1024 });
    let head = 'POST /twothousand HTTP/1.1\r\nHost: up\r\nConnection: close\r\n';
    for (let i = 0; i < 2100; i++) head += `x-h${i}: 1\r\n`;
    const out = await raw(p.outbound, `${head}Content-Length: 5\r\n\r\nhello`, 3_000);
    assert.match(out, /^HTTP\/1.1 200/, out.slice(0, 200));
    const seen = up.seen.at(-1)!;
    assert.equal(seen.url, '/twothousand');
    assert.equal(seen.body, 'hello', 'the body arrived');
    // The echo upstream is node:http, whose request object keeps 1,000 header names: look below that.
    assert.equal(seen.headers['x-h990'], '1', 'the headers arrived');
    await publish(null);
  });

  it('maxRequestHeadersBytes: a larger head → 431 WEFT_HEADERS_TOO_LARGE (applied to new connections on reload)', async () => {
    await publish({ maxRequestHeadersBytes: 2048 });
    const out = await raw(p.outbound, `GET / HTTP/1.1\r\nHost: up\r\nX-Big: ${'a'.repeat(3000)}\r\n\r\n`);
    assert.match(out, /^HTTP\/1.1 431[^]*weft-error: WEFT_HEADERS_TOO_LARGE/);
    await publish(null);
  });

  it('requestHeadersTimeout: a head that never ends → 408 WEFT_REQUEST_HEADERS_TIMEOUT and the connection closed', async () => {
    await publish({ requestHeadersTimeoutMs: 400 });
    const out = await raw(p.outbound, 'GET /slow HTTP/1.1\r\nHost: up\r\nX-Half: ', 5_000);
    assert.match(out, /^HTTP\/1.1 408[^]*WEFT_REQUEST_HEADERS_TIMEOUT/);
    await publish(null);
  });

  it('requestHeadersTimeout over HTTP/2: no preface, a preface and no HEADERS, or a header block never ended → connection closed and counted', async () => {
    await publish({ requestHeadersTimeoutMs: 400 });
    const refused = async (): Promise<number> => {
      const m = /weft_listener_refused_total\{listener="outbound",reason="WEFT_REQUEST_HEADERS_TIMEOUT"\} (\d+)/.exec(await getText(p.admin, '/metrics'));
      return m ? Number(m[1]) : 0;
    };
    const before = await refused();
    try {
      assert.equal(await closedByServer(p.outbound, PREFACE.subarray(0, 16)), true, 'half a preface: closed');
      assert.equal(await closedByServer(p.outbound, Buffer.concat([PREFACE, EMPTY_SETTINGS])), true, 'a preface and SETTINGS, then nothing: closed');
      // HEADERS for stream 1 (:method GET, :scheme http, :path / from the HPACK static table)
      // with END_STREAM but without END_HEADERS: a CONTINUATION that never comes.
      const open = h2Frame(0x1, 0x1, 1, Buffer.from([0x82, 0x86, 0x84]));
      assert.equal(await closedByServer(p.outbound, Buffer.concat([PREFACE, EMPTY_SETTINGS, open])), true, 'an unfinished header block: closed');
      assert.equal(await closedByServer(p.inbound!, Buffer.concat([PREFACE, EMPTY_SETTINGS])), true, 'the inbound listener too');
      assert.ok((await refused()) >= before + 2, 'counted in weft_listener_refused_total');
      // A session that sends its request in time is served as before.
      const r = await call(p.outbound, 'up', '/after');
      assert.equal(r.status, 200);
    } finally {
      await publish(null);
    }
  });

  it('streamIdleTimeout: a body that stops arriving → 408 WEFT_STREAM_IDLE_TIMEOUT and the connection closed', async () => {
    await publish({ streamIdleTimeoutMs: 400 });
    for (const addr of [p.outbound, p.inbound!]) {
      const started = (addr === p.outbound ? up : app).seen.length;
      const out = await raw(addr, `POST /trickle HTTP/1.1\r\nHost: ${addr === p.outbound ? 'up' : 'me'}\r\nContent-Length: 100\r\n\r\nabc`, 5_000);
      assert.match(out, /^HTTP\/1.1 408[^]*WEFT_STREAM_IDLE_TIMEOUT/, addr);
      assert.equal((addr === p.outbound ? up : app).seen.length, started, 'no complete request reached the upstream');
    }
    await publish(null);
  });

  it('requestTimeout: a body trickled just fast enough never to be idle → 408 WEFT_REQUEST_RECEIVE_TIMEOUT, connection closed, nothing complete upstream', async () => {
    await publish({ requestTimeoutMs: 1_000, streamIdleTimeoutMs: 600 });
    try {
      for (const addr of [p.outbound, p.inbound!]) {
        const target = addr === p.outbound ? up : app;
        const seen = target.seen.length;
        // A small body: still being read (kept whole for retries) when the deadline fires.
        const small = await trickle(addr, `POST /trickle HTTP/1.1\r\nHost: ${addr === p.outbound ? 'up' : 'me'}\r\nContent-Length: 1000\r\n\r\n`);
        assert.match(small, /^HTTP\/1.1 408[^]*weft-error: WEFT_REQUEST_RECEIVE_TIMEOUT[^]*requestTimeout 1000ms/, `${addr}: ${small.slice(0, 120)}`);
        assert.match(small, /connection: close/i);
        assert.equal(target.seen.length, seen, 'no complete request reached the upstream');
      }
      // A large body: the proxy already streams it upstream when the deadline fires, and aborts it.
      const started = up.started;
      const seen = up.seen.length;
      const large = await trickle(p.outbound, `POST /trickle-large HTTP/1.1\r\nHost: up\r\nContent-Length: 200000\r\n\r\n${'b'.repeat(70 * 1024)}`);
      assert.match(large, /^HTTP\/1.1 408[^]*weft-error: WEFT_REQUEST_RECEIVE_TIMEOUT/, large.slice(0, 120));
      assert.ok(up.started > started, 'the upstream had the request head (the body was streaming)');
      assert.equal(up.seen.length, seen, 'the upstream never saw a complete request');
    } finally {
      await publish(null);
    }
  });

  it('requestTimeout over HTTP/2: a trickled stream gets :status 408 WEFT_REQUEST_RECEIVE_TIMEOUT', async () => {
    await publish({ requestTimeoutMs: 1_000, streamIdleTimeoutMs: 600 });
    const session = h2connect(`http://${p.outbound}`);
    session.on('error', () => {});
    try {
      const stream = session.request({ ':method': 'POST', ':path': '/trickle-h2', ':authority': 'up', 'content-length': '1000' });
      stream.on('error', () => {});
      stream.resume();
      const closed = new Promise((r) => stream.once('close', r));
      const tick = setInterval(() => {
        if (!stream.closed && !stream.destroyed) stream.write('a');
      }, 100);
      try {
        const headers = await within(new Promise<Record<string, unknown>>((r) => stream.once('response', r)), 8_000, 'the HTTP/2 answer to a trickled body');
        assert.equal(headers[':status'], 408);
        assert.equal(headers['weft-error'], 'WEFT_REQUEST_RECEIVE_TIMEOUT');
        // The proxy stops reading: the stream is closed although the client is still sending.
        await within(closed, 8_000, 'the proxy to close the trickled HTTP/2 stream');
      } finally {
        clearInterval(tick);
        stream.destroy();
      }
    } finally {
      session.destroy();
      await publish(null);
    }
  });

  it('streamIdleTimeout: an app that never answers → 504 WEFT_UPSTREAM_IDLE_TIMEOUT (inbound and outbound)', async () => {
    await publish({ streamIdleTimeoutMs: 400 });
    const silent = (_req: unknown, _res: unknown, _body: string): boolean => true; // never answers
    app.behave = silent;
    up.behave = silent;
    try {
      const inb = await call(p.inbound!, 'me', '/never');
      assert.equal(inb.status, 504);
      assert.equal(inb.headers['weft-error'], 'WEFT_UPSTREAM_IDLE_TIMEOUT');
      const out = await call(p.outbound, 'up', '/never');
      assert.equal(out.status, 504);
      assert.equal(out.headers['weft-error'], 'WEFT_UPSTREAM_IDLE_TIMEOUT');
    } finally {
      app.behave = null;
      up.behave = null;
      app.server.closeAllConnections();
      up.server.closeAllConnections();
    }
    await publish(null);
  });

  it('maxConnections: connections past the limit are closed at once and counted', async () => {
    await publish({ maxConnections: 2 });
    const open = (): Promise<Socket> =>
      within(
        new Promise((resolve) => {
          const i = p.outbound.lastIndexOf(':');
          const s = connect(Number(p.outbound.slice(i + 1)), p.outbound.slice(0, i), () => resolve(s));
          s.on('error', () => {});
        }),
        10_000,
        'a connection to the outbound listener',
      );
    const held = [await open(), await open()];
    try {
      // Both held connections still work; a third is closed without an answer.
      const third = await raw(p.outbound, 'GET / HTTP/1.1\r\nHost: up\r\n\r\n', 3_000);
      assert.equal(third, '');
      const metrics = await getText(p.admin, '/metrics');
      assert.match(metrics, /weft_listener_refused_total\{listener="outbound",reason="maxConnections"\} [1-9]/);
    } finally {
      for (const s of held) s.destroy();
    }
    await publish(null);
  });

  it('upstream response headers over maxResponseHeadersBytes → 502 WEFT_UPSTREAM_HEADERS_TOO_LARGE (not a reset); the limit is configurable', async () => {
    up.behave = (req, res) => {
      const m = /^\/head\/(\d+)/.exec(req.url ?? '');
      if (!m) return false;
      res.writeHead(200, { 'x-large': 'a'.repeat(Number(m[1])) });
      res.end('ok');
      return true;
    };
    try {
      // Raw socket: the test's own HTTP client stops at 16 KiB of head.
      assert.match(await raw(p.outbound, 'GET /head/20000 HTTP/1.1\r\nHost: up\r\nConnection: close\r\n\r\n', 3_000), /^HTTP\/1.1 200/, 'a 20 KB head passes the 64 KiB default');
      const big = await call(p.outbound, 'up', '/head/70000');
      assert.equal(big.status, 502);
      assert.equal(big.headers['weft-error'], 'WEFT_UPSTREAM_HEADERS_TOO_LARGE');
      assert.match(big.text, /maxResponseHeadersBytes 65536/);
      await publish({ maxResponseHeadersBytes: 8192 });
      const small = await call(p.outbound, 'up', '/head/20000');
      assert.equal(small.status, 502);
      assert.equal(small.headers['weft-error'], 'WEFT_UPSTREAM_HEADERS_TOO_LARGE');
    } finally {
      up.behave = null;
    }
    await publish(null);
  });
});
