/**
 * Test harness for real-process proxy tests: echo upstreams on loopback, `weft proxy` child
 * processes on free ports, atomic bundle writes, and a small HTTP client. Every process and
 * server a test starts is registered and stopped by `cleanup()`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request as undiciRequest } from 'undici';
import type { Bundle } from '../../schemas/bundle.js';

/** WEFT_BIN is dist/bin/weft.js (tests run from dist/test/...). */
export const WEFT_BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'weft.js');

/** EchoRequest is what an echo server saw. */
export interface EchoRequest {
  name: string;
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  bodyLength: number;
  body: string;
  complete: boolean;
}

/** Echo is a running echo server. */
export interface Echo {
  name: string;
  address: string;
  port: number;
  server: Server;
  /** Requests whose body was fully received. */
  seen: EchoRequest[];
  /** Requests whose headers arrived (complete or not). */
  started: number;
  /** Per-test behaviour override; return true when handled. */
  behave: ((req: IncomingMessage, res: ServerResponse, body: string) => boolean) | null;
  close(): Promise<void>;
}

/**
 * startEcho starts an upstream that answers 200 with a JSON echo of the request. Paths
 * `/status/NNN` answer NNN; `/delay/MS` waits first; `/reset` destroys the socket; `/big` sends
 * 1 MiB; `behave` overrides.
 */
export async function startEcho(name: string, port = 0): Promise<Echo> {
  const echo: Echo = {
    name,
    address: '127.0.0.1',
    port: 0,
    server: null as unknown as Server,
    seen: [],
    started: 0,
    behave: null,
    close: () => new Promise((resolve) => {
      echo.server.close(() => resolve());
      echo.server.closeAllConnections();
    }),
  };
  echo.server = createServer((req, res) => {
    echo.started++;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', () => {});
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      echo.seen.push({ name, method: req.method ?? '', url: req.url ?? '', headers: req.headers, bodyLength: Buffer.concat(chunks).length, body, complete: true });
      if (echo.behave && echo.behave(req, res, body)) return;
      const url = req.url ?? '/';
      let m: RegExpExecArray | null;
      if (url === '/reset') {
        req.socket.destroy();
        return;
      }
      if ((m = /^\/status\/(\d{3})/.exec(url))) {
        res.writeHead(Number(m[1]), { 'content-type': 'text/plain', 'x-upstream': name });
        res.end(`status ${m[1]} from ${name}\n`);
        return;
      }
      const send = (): void => {
        if (url === '/big') {
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'x-upstream': name });
          res.end(Buffer.alloc(1024 * 1024, 97));
          return;
        }
        const out = JSON.stringify({ name, method: req.method, url, headers: req.headers, bodyLength: Buffer.concat(chunks).length });
        res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': name, connection: 'x-drop-me', 'x-drop-me': 'secret', 'keep-alive': 'timeout=5', 'proxy-authenticate': 'Basic' });
        res.end(out);
      };
      if ((m = /^\/delay\/(\d+)/.exec(url))) setTimeout(send, Number(m[1]));
      else send();
    });
  });
  await new Promise<void>((resolve) => echo.server.listen(port, '127.0.0.1', () => resolve()));
  echo.port = (echo.server.address() as AddressInfo).port;
  return echo;
}

/** tempDir makes a fresh directory under the OS temp dir. */
export function tempDir(prefix = 'weft-test-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

/** writeAtomic writes a file by rename, as a controller or `kubectl cp` would. */
export function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

/** writeBundle writes a bundle as JSON, atomically. */
export function writeBundle(file: string, b: Bundle): void {
  writeAtomic(file, JSON.stringify(b));
}

/** ProxyProcess is a running `weft proxy` child. */
export interface ProxyProcess {
  child: ChildProcess;
  outbound: string;
  inbound: string | null;
  admin: string;
  stderr: string[];
  stdout: string[];
  stop(): Promise<void>;
}

/** spawnProxy starts `weft proxy` with ports picked by the OS and waits for its "listening" line. */
export async function spawnProxy(args: string[], timeoutMs = 15_000): Promise<ProxyProcess> {
  const child = spawn(process.execPath, [WEFT_BIN, 'proxy', ...(args.some((a) => ['--ca', '--cert', '--insecure'].includes(a)) ? [] : ['--insecure']), '--outbound', '127.0.0.1:0', '--admin', '127.0.0.1:0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const stderr: string[] = [];
  const stdout: string[] = [];
  let outBuf = '';
  child.stdout!.on('data', (d: Buffer) => {
    outBuf += d.toString();
    const lines = outBuf.split('\n');
    outBuf = lines.pop() ?? '';
    stdout.push(...lines);
  });
  const p = await new Promise<ProxyProcess>((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`proxy did not start: ${stderr.join('\n')}`)), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`proxy exited with ${code}: ${stderr.join('\n')}${buf}`));
    });
    child.stderr!.on('data', (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      for (const l of lines) {
        stderr.push(l);
        if (l.includes('"msg":"listening"')) {
          clearTimeout(timer);
          const info = JSON.parse(l) as { outbound: string; inbound: string | null; admin: string };
          resolve({
            child,
            outbound: info.outbound,
            inbound: info.inbound,
            admin: info.admin,
            stderr,
            stdout,
            stop: () =>
              new Promise<void>((res) => {
                if (child.exitCode !== null || child.signalCode !== null) return res();
                const t = setTimeout(() => child.kill('SIGKILL'), 5_000);
                child.once('exit', () => {
                  clearTimeout(t);
                  res();
                });
                child.kill('SIGTERM');
              }),
          });
        }
      }
    });
  });
  child.removeAllListeners('exit');
  return p;
}

/** agent is a keep-alive client shared by tests (closed in cleanup). */
export const agent = new Agent({ keepAliveTimeout: 2_000, connections: 64 });

/** Response is a fully read response. */
export interface Res {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json<T = { name: string; method: string; url: string; headers: Record<string, string>; bodyLength: number }>(): T;
}

/** call sends one request to `addr` with the given Host and reads the whole response. */
export async function call(addr: string, host: string, target = '/', opts: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<Res> {
  const r = await undiciRequest(`http://${addr}${target}`, {
    method: (opts.method ?? 'GET') as 'GET',
    headers: { host, ...opts.headers },
    body: opts.body ?? null,
    dispatcher: agent,
  });
  const text = await r.body.text();
  return { status: r.statusCode, headers: r.headers, text, json: <T>() => JSON.parse(text) as T };
}

/** getJson reads a JSON admin endpoint. */
export async function getJson<T>(addr: string, p: string): Promise<T> {
  const r = await undiciRequest(`http://${addr}${p}`, { dispatcher: agent });
  return (await r.body.json()) as T;
}

/** waitFor polls `check` until it returns true or `ms` passes. */
export async function waitFor(check: () => Promise<boolean> | boolean, ms = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** waitForDigest waits until the proxy's /config reports `digest` as active. */
export async function waitForDigest(admin: string, digest: string, ms = 10_000): Promise<void> {
  await waitFor(async () => (await getJson<{ active: { digest: string } | null }>(admin, '/config')).active?.digest === digest, ms, `digest ${digest}`);
}

/**
 * raw sends bytes over a plain TCP socket and returns everything the server wrote until it closed
 * the connection or `idleMs` passed without data (for framing and smuggling tests).
 */
export async function raw(addr: string, bytes: string | Buffer, idleMs = 1_000): Promise<string> {
  const { connect } = await import('node:net');
  const i = addr.lastIndexOf(':');
  return new Promise((resolve) => {
    const s = connect(Number(addr.slice(i + 1)), addr.slice(0, i));
    let out = '';
    let timer = setTimeout(() => s.destroy(), idleMs);
    s.on('data', (d: Buffer) => {
      out += d.toString('latin1');
      clearTimeout(timer);
      timer = setTimeout(() => s.destroy(), idleMs);
    });
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
    s.write(bytes);
  });
}
