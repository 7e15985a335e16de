/**
 * WebSocket through two real `weft proxy` processes (caller outbound → callee inbound → a `ws`
 * server): messages echo both ways, the connection closes cleanly from either end, a caller the
 * callee's AuthorizationPolicy denies gets 403 before any upgrade (the app never sees it), and
 * an Upgrade token other than websocket is refused with a response, not a hang.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import { compile } from '../../compiler/compile.js';
import { agent, raw, spawnProxy, tempDir, within, type ProxyProcess } from '../helpers/proxy-harness.js';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** A WebSocket whose messages are queued from the moment it exists. */
interface Conn {
  ws: WebSocket;
  /** next resolves with the next message, waiting at most 5 s for it. */
  next(): Promise<WebSocket.RawData>;
}

/**
 * open connects a WebSocket to `addr` with Host `host`; resolves when open, rejects with the HTTP
 * status when refused. Messages are queued before 'open': the app's first frame can arrive in
 * the same read as the 101 response and is emitted before an awaiting caller could listen.
 */
function open(addr: string, host: string, p: string): Promise<Conn> {
  const ws = new WebSocket(`ws://${addr}${p}`, { headers: { host } });
  const queued: WebSocket.RawData[] = [];
  const waiting: Array<(d: WebSocket.RawData) => void> = [];
  ws.on('message', (d) => {
    const w = waiting.shift();
    if (w) w(d);
    else queued.push(d);
  });
  const next = (): Promise<WebSocket.RawData> => {
    const d = queued.shift();
    if (d !== undefined) return Promise.resolve(d);
    return within(new Promise((resolve) => waiting.push(resolve)), 5_000, 'a WebSocket message');
  };
  const opened = new Promise<Conn>((resolve, reject) => {
    ws.once('open', () => resolve({ ws, next }));
    ws.once('unexpected-response', (_req, res) => {
      reject(Object.assign(new Error(`refused: ${res.statusCode}`), { status: res.statusCode, headers: res.headers }));
      ws.terminate();
    });
    ws.once('error', reject);
  });
  return within(opened, 10_000, `the WebSocket to ${addr}${p} to open`);
}

describe('WebSocket through two proxies', () => {
  let wss: WebSocketServer;
  let appPort = 0;
  const upgrades: string[] = [];
  const procs: ProxyProcess[] = [];
  let caller: ProxyProcess;
  before(async () => {
    wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await within(new Promise<void>((resolve) => wss.once('listening', () => resolve())), 5_000, 'the WebSocket server to listen');
    appPort = (wss.address() as { port: number }).port;
    wss.on('connection', (ws, req) => {
      upgrades.push(req.url ?? '');
      ws.send(`hello ${req.headers['x-forwarded-client'] ?? req.headers['weft-source'] ?? 'anonymous'}`);
      ws.on('message', (data, isBinary) => ws.send(isBinary ? data : `echo: ${data.toString()}`, { binary: isBinary }));
    });
    const inbound = await freePort();
    const dir = tempDir();
    mkdirSync(path.join(dir, 'policies'));
    writeFileSync(
      path.join(dir, 'policies', 'mesh.yaml'),
      `apiVersion: weft.dev/v1alpha1
kind: Service
metadata: { name: client }
spec:
  ports: [{ name: http, port: 80 }]
---
apiVersion: weft.dev/v1alpha1
kind: Service
metadata: { name: chat }
spec:
  ports: [{ name: ws, port: 80, appProtocol: kubernetes.io/ws }]
  endpoints: [{ address: 127.0.0.1, port: ${inbound}, meshed: true }]
---
apiVersion: weft.dev/v1alpha1
kind: AuthorizationPolicy
metadata: { name: chat }
spec:
  targetRefs: [{ kind: Service, name: chat }]
  action: DENY
  rules:
    - to: [{ paths: ["/private*"] }]
`,
    );
    const result = await compile({ dir: path.join(dir, 'policies') });
    assert.ok(result.bundleJson, result.diagnostics.map((d) => d.message).join('; '));
    writeFileSync(path.join(dir, 'bundle.json'), result.bundleJson);
    procs.push(await spawnProxy(['--service', 'chat', '--bundle', path.join(dir, 'bundle.json'), '--inbound', `127.0.0.1:${inbound}`, '--app', `http://127.0.0.1:${appPort}`]));
    caller = await spawnProxy(['--service', 'client', '--bundle', path.join(dir, 'bundle.json')]);
    procs.push(caller);
  });
  after(async () => {
    for (const p of procs) await p.stop();
    await within(
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => resolve());
      }),
      5_000,
      'the WebSocket server to close',
    );
    await agent.close();
  });

  it('echoes text and binary messages both ways, and closes cleanly', async () => {
    const { ws, next } = await open(caller.outbound, 'chat', '/room/1');
    const got: string[] = [];
    got.push((await next()).toString());
    assert.equal(got[0], 'hello client.default');
    for (const text of ['one', 'two', 'x'.repeat(100_000)]) {
      ws.send(text);
      assert.equal((await next()).toString(), `echo: ${text}`);
    }
    const bin = Buffer.from([0, 1, 2, 255]);
    ws.send(bin, { binary: true });
    assert.deepEqual(Buffer.from((await next()) as Buffer), bin);
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    ws.close(1000, 'bye');
    assert.equal(await within(closed, 5_000, 'the WebSocket close'), 1000);
    assert.ok(upgrades.includes('/room/1'));
  });

  it('a denied upgrade gets 403 before any upgrade; the app never sees it', async () => {
    const before = upgrades.length;
    await assert.rejects(open(caller.outbound, 'chat', '/private/room'), (err: Error & { status?: number; headers?: Record<string, string> }) => {
      assert.equal(err.status, 403);
      assert.equal(err.headers?.['weft-error'], 'WEFT_FORBIDDEN');
      return true;
    });
    assert.equal(upgrades.length, before);
  });

  it('an Upgrade other than websocket is refused with 400 and the connection closed (no hang)', async () => {
    const out = await raw(caller.outbound, 'GET / HTTP/1.1\r\nHost: chat\r\nConnection: Upgrade\r\nUpgrade: foo/1\r\n\r\n', 2_000);
    assert.match(out, /^HTTP\/1.1 400 Bad Request\r\n/);
    assert.match(out, /weft-error: WEFT_UPGRADE_UNSUPPORTED/);
    assert.match(out, /connection: close/);
  });
});
