/**
 * An HTTP/2 upstream whose connection dies (a peer proxy killed, a connection reset), through a
 * real `weft proxy` to a real node:http2 server on loopback. node:http2 closes every open stream
 * of such a session with RST_STREAM CANCEL and emits no 'error' for that code: an attempt waiting
 * for its response head must still fail at once, as a reset (502 WEFT_UPSTREAM_RESET, retriable),
 * and a response cut mid-body must be cut for the client too, never passed off as complete. The
 * bundle has no timeouts, so before the fix the first case waited for the client's own bound.
 */
import assert from 'node:assert/strict';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import http2, { type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { bundle, service, spec } from '../helpers/bundle-builder.js';
import { call, removeDir, spawnProxy, tempDir, within, writeBundle, type ProxyProcess } from '../helpers/proxy-harness.js';

/** An h2c upstream: `/die` kills its connection on receiving the request, `/die-mid` after 1 KiB of body, `/ok` answers. */
async function startDying(): Promise<{ server: http2.Http2Server; port: number; seen: string[]; sockets: Set<Socket> }> {
  const seen: string[] = [];
  const sockets = new Set<Socket>();
  const server = http2.createServer();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('stream', (st: ServerHttp2Stream, headers) => {
    st.on('error', () => {});
    const p = String(headers[':path']);
    seen.push(p);
    // The raw connection (session.socket is node:http2's proxy, which refuses destroy()), found by
    // the peer's port: destroying it is what a killed peer looks like (no GOAWAY, no RST_STREAM).
    const port = st.session?.socket.remotePort;
    const socket = [...sockets].find((s) => s.remotePort === port);
    if (p === '/die') {
      socket?.destroy();
      return;
    }
    if (p === '/die-mid') {
      st.respond({ ':status': 200, 'content-type': 'text/plain' });
      st.write('x'.repeat(1024), () => socket?.destroy());
      return;
    }
    st.respond({ ':status': 200 });
    st.end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port, seen, sockets };
}

/** An HTTP/1.1 app whose `/cut` sends the head and 1 KiB of a chunked body, then drops the connection. */
async function startCutting(): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('x'.repeat(1024), () => res.socket?.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port };
}

/** h2Get asks for `target` over h2c and reports how the stream ended: its RST code, whether 'end' came, the body length. */
function h2Get(addr: string, authority: string, target: string): Promise<{ status: number; rstCode: number | undefined; ended: boolean; bytes: number }> {
  return within(
    new Promise((resolve, reject) => {
      const session = http2.connect(`http://${addr}`);
      session.on('error', reject);
      const st = session.request({ ':path': target, ':authority': authority });
      let status = 0;
      let ended = false;
      let bytes = 0;
      st.on('response', (h) => (status = Number(h[':status'])));
      st.on('data', (d: Buffer) => (bytes += d.length));
      st.on('end', () => (ended = true));
      st.on('error', () => {});
      st.on('close', () => {
        resolve({ status, rstCode: st.rstCode, ended, bytes });
        session.close();
      });
    }),
    15_000,
    `the h2c stream for ${authority}${target} to close`,
  );
}

describe('an HTTP/2 upstream connection that dies', () => {
  let up: Awaited<ReturnType<typeof startDying>>;
  let app: Awaited<ReturnType<typeof startCutting>>;
  let p: ProxyProcess;
  let dir: string;

  before(async () => {
    up = await startDying();
    app = await startCutting();
    dir = tempDir();
    const file = path.join(dir, 'bundle.json');
    // A meshed endpoint is a Weft inbound: HTTP/2 (h2c, the proxy has no identity here).
    writeBundle(file, bundle(spec([service('peer', { endpoints: [{ address: '127.0.0.1', port: up.port, labels: {}, meshed: true }] }), service('cutter', { endpoints: [`127.0.0.1:${app.port}`] }), service('me', { endpoints: [] })])));
    p = await spawnProxy(['--service', 'me', '--bundle', file]);
  });
  after(async () => {
    await p.stop();
    for (const s of up.sockets) s.destroy();
    await new Promise((r) => up.server.close(r));
    app.server.closeAllConnections();
    await new Promise((r) => app.server.close(r));
    await removeDir(dir);
  });

  it('a stream waiting for its head when the connection dies fails at once: 502 WEFT_UPSTREAM_RESET', async () => {
    const r = await call(p.outbound, 'peer', '/die');
    assert.equal(r.status, 502, r.text);
    assert.equal(r.headers['weft-error'], 'WEFT_UPSTREAM_RESET');
    assert.ok(up.seen.includes('/die'), 'the upstream received the request');
  });

  it('a response cut mid-body is cut for the client too', async () => {
    await assert.rejects(call(p.outbound, 'peer', '/die-mid'), (err: Error) => !/headersTimeout|bodyTimeout|Timeout/i.test(String((err.cause as Error | undefined)?.name ?? '')));
    assert.ok(up.seen.includes('/die-mid'), 'the upstream received the request');
  });

  it('the next request opens a new session and is answered', async () => {
    const r = await call(p.outbound, 'peer', '/ok');
    assert.equal(r.status, 200);
    assert.equal(r.text, 'ok');
  });

  it('an HTTP/2 client sees a response its upstream cut as a reset stream, never as a complete one', async () => {
    const r = await h2Get(p.outbound, 'cutter', '/cut');
    assert.equal(r.status, 200);
    assert.ok(r.bytes > 0, 'part of the body arrived');
    assert.notEqual(r.rstCode, 0, `the stream was reset with a code other than NO_ERROR (got ${r.rstCode}, end: ${r.ended})`);
  });
});
