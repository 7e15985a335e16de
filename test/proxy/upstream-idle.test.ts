/**
 * Upstream connections after aborted streams (issue 13 item 9), through a real `weft proxy`:
 * real upstreams on loopback count their open sockets, real clients abort their requests, and the
 * upstream's count must fall back to 0 — the proxy closes what it no longer uses.
 *
 * The HTTP/1.1 upstream keeps idle connections 120 s itself and says so (`Keep-Alive:
 * timeout=120`, as nginx- or Apache-style servers configured for long keep-alive do), so only the
 * proxy's own idle limit can close them: before the fix, undici honoured that hint up to 60 s,
 * and each aborted request left a fresh spare connection behind for that long. The HTTP/2
 * upstream (a meshed endpoint: h2c under --insecure) kept its session 60 s after the aborted
 * streams. docs/proxy.md says 4 s; the bound here (25 s) is far above that and far below 60 s, so
 * the test tells the two apart without timing anything closely.
 */
import assert from 'node:assert/strict';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import http2, { type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { bundle, service, spec } from '../helpers/bundle-builder.js';
import { removeDir, spawnProxy, tempDir, waitFor, within, writeBundle, type ProxyProcess } from '../helpers/proxy-harness.js';

/** CLOSE_BOUND_MS bounds the wait for the upstream's sockets to close (documented: 4 s idle). */
const CLOSE_BOUND_MS = 25_000;

/** Counted is a server with the set of its open sockets and how many requests have started. */
interface Counted {
  readonly open: Set<Socket>;
  started: number;
  port: number;
}

function count(server: http.Server | http2.Http2Server, c: Counted): void {
  server.on('connection', (s: Socket) => {
    c.open.add(s);
    s.on('close', () => c.open.delete(s));
  });
}

/**
 * An HTTP/1.1 upstream: `/stream` answers 200 and writes forever; `/slow` never answers; `/upload`
 * reads the body and answers at its end.
 */
async function startH1(): Promise<Counted & { server: http.Server }> {
  const c = { open: new Set<Socket>(), started: 0, port: 0 };
  const server = http.createServer((req: IncomingMessage, res: ServerResponse) => {
    c.started++;
    req.on('error', () => {});
    res.on('error', () => {});
    if (req.url === '/stream') {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/plain' });
      const t = setInterval(() => res.write('x'.repeat(1024)), 20);
      res.on('close', () => clearInterval(t));
      return;
    }
    if (req.url === '/slow') {
      req.resume();
      return;
    }
    req.resume();
    req.on('end', () => res.end('done'));
  });
  // Longer than the proxy will ever wait: the upstream never closes first, and says so.
  server.keepAliveTimeout = 120_000;
  count(server, c);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  c.port = (server.address() as AddressInfo).port;
  return Object.assign(c, { server });
}

/** An HTTP/2 (h2c) upstream with the same paths. */
async function startH2(): Promise<Counted & { server: http2.Http2Server }> {
  const c = { open: new Set<Socket>(), started: 0, port: 0 };
  const server = http2.createServer();
  server.on('stream', (st: ServerHttp2Stream, headers) => {
    c.started++;
    st.on('error', () => {});
    const p = headers[':path'];
    if (p === '/stream') {
      st.respond({ ':status': 200 });
      const t = setInterval(() => {
        if (!st.closed && !st.destroyed) st.write('x'.repeat(1024));
      }, 20);
      st.on('close', () => clearInterval(t));
      return;
    }
    st.resume();
    if (p === '/slow') return;
    st.on('end', () => {
      if (st.closed || st.destroyed) return;
      st.respond({ ':status': 200 });
      st.end('done');
    });
  });
  count(server, c);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  c.port = (server.address() as AddressInfo).port;
  return Object.assign(c, { server });
}

/**
 * abortedRequest sends a request to the proxy's outbound listener and destroys the client
 * connection at `when`: after the response headers and some body (`mid-response`), once the
 * upstream has the request but before it answers (`before-response`), or half-way through a
 * 1 MiB upload the proxy streams (`mid-upload`).
 */
async function abortedRequest(outbound: string, host: string, when: 'mid-response' | 'before-response' | 'mid-upload', up: Counted): Promise<void> {
  const i = outbound.lastIndexOf(':');
  const started = up.started;
  const upload = when === 'mid-upload';
  const req = http.request({
    host: outbound.slice(0, i),
    port: Number(outbound.slice(i + 1)),
    method: upload ? 'POST' : 'GET',
    path: upload ? '/upload' : when === 'mid-response' ? '/stream' : '/slow',
    headers: { host, ...(upload ? { 'content-length': String(1024 * 1024) } : {}) },
    agent: false,
  });
  req.on('error', () => {});
  if (when === 'mid-response') {
    req.end();
    const res = await within(new Promise<IncomingMessage>((r) => req.once('response', r)), 10_000, `response headers from ${host}/stream`);
    await within(new Promise((r) => res.once('data', r)), 10_000, `the first body bytes from ${host}/stream`);
  } else {
    if (upload) req.write(Buffer.alloc(256 * 1024, 97));
    else req.end();
    await waitFor(() => up.started > started, 10_000, `${host} to receive the request`);
  }
  req.destroy();
}

/** completeRequest sends a small POST to `/upload` through the proxy and reads the whole answer; resolves its status. */
function completeRequest(outbound: string, host: string): Promise<number> {
  const i = outbound.lastIndexOf(':');
  return within(
    new Promise<number>((resolve, reject) => {
      const req = http.request({ host: outbound.slice(0, i), port: Number(outbound.slice(i + 1)), method: 'POST', path: '/upload', headers: { host }, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end('body');
    }),
    10_000,
    `the answer to a complete request to ${host}`,
  );
}

describe('upstream connections after aborted streams (issue 13 item 9)', () => {
  let h1: Awaited<ReturnType<typeof startH1>>;
  let h2: Awaited<ReturnType<typeof startH2>>;
  let p: ProxyProcess;
  let dir: string;

  before(async () => {
    h1 = await startH1();
    h2 = await startH2();
    dir = tempDir();
    const file = path.join(dir, 'bundle.json');
    const b = bundle(
      spec([
        service('h1', { endpoints: [`127.0.0.1:${h1.port}`] }),
        // A meshed endpoint is a Weft inbound: HTTP/2 (h2c, the proxy has no identity here).
        service('h2', { endpoints: [{ address: '127.0.0.1', port: h2.port, labels: {}, meshed: true }] }),
        service('me', { endpoints: [] }),
      ]),
    );
    writeBundle(file, b);
    p = await spawnProxy(['--service', 'me', '--bundle', file]);
  });
  after(async () => {
    await p.stop();
    h1.server.closeAllConnections();
    for (const s of h2.open) s.destroy();
    await Promise.all([new Promise((r) => h1.server.close(r)), new Promise((r) => h2.server.close(r))]);
    await removeDir(dir);
  });

  for (const when of ['mid-response', 'before-response', 'mid-upload'] as const) {
    it(`HTTP/1.1 upstream: requests aborted ${when} leave no connection open (upstream keep-alive hint 120 s)`, async () => {
      // A completed request first, so the proxy has seen the upstream's 120 s hint.
      assert.equal(await completeRequest(p.outbound, 'h1'), 200);
      await Promise.all([0, 1, 2].map(() => abortedRequest(p.outbound, 'h1', when, h1)));
      assert.ok(h1.started >= 4, 'the upstream received the requests');
      await waitFor(() => h1.open.size === 0, CLOSE_BOUND_MS, `the HTTP/1.1 upstream's ${h1.open.size} connections to close after requests aborted ${when}`);
    });
  }

  it('HTTP/1.1 upstream: a completed request does not keep its connection past the idle limit either', async () => {
    const r = await completeRequest(p.outbound, 'h1');
    assert.equal(r, 200);
    assert.ok(h1.open.size > 0, 'the proxy keeps the connection for reuse at first');
    await waitFor(() => h1.open.size === 0, CLOSE_BOUND_MS, 'the idle HTTP/1.1 upstream connection to close');
  });

  for (const when of ['mid-response', 'before-response', 'mid-upload'] as const) {
    it(`HTTP/2 upstream: streams aborted ${when} leave no session open once idle`, async () => {
      await Promise.all([0, 1, 2].map(() => abortedRequest(p.outbound, 'h2', when, h2)));
      assert.ok(h2.open.size > 0, 'the proxy reached the upstream over one session');
      await waitFor(() => h2.open.size === 0, CLOSE_BOUND_MS, `the HTTP/2 upstream's session to close after streams aborted ${when}`);
    });
  }
});
