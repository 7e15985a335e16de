/**
 * The one helper library for real-process tests: upstreams on loopback (an echo server, and a
 * small app whose status and delay change live), `weft proxy` child processes on ports the OS
 * picks, atomic bundle writes, temp directories, and two HTTP clients (undici `call`, node:http
 * `send` with timing). Every proxy process is killed and every temp directory removed when the
 * test process exits, whatever the test did.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import http, { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
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

const children = new Set<ChildProcess>();
const tempDirs = new Set<string>();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

/** tempDir makes a fresh directory under the OS temp dir; it is removed when the process exits. */
export function tempDir(prefix = 'weft-test-'): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

/** removeDir removes a directory made by tempDir now (instead of at exit). */
export async function removeDir(dir: string): Promise<void> {
  tempDirs.delete(dir);
  await rm(dir, { recursive: true, force: true });
}

/** sleep waits `ms` (for letting time pass in a time-based policy, never to wait for an event). */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * within settles as `promise` does, or rejects after `ms` naming `what` was awaited. Every wait
 * on an event in a test goes through it (or waitFor): an unbounded wait hangs a CI run instead
 * of failing it with a place.
 */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
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
  /** Everything the proxy wrote to stderr so far (its JSON log). */
  output(): string;
  stop(): Promise<void>;
}

/** spawnProxy starts `weft proxy` with ports picked by the OS and waits for its "listening" line. */
export async function spawnProxy(args: string[], timeoutMs = 15_000): Promise<ProxyProcess> {
  const child = spawn(process.execPath, [WEFT_BIN, 'proxy', ...(args.some((a) => ['--ca', '--cert', '--insecure'].includes(a)) ? [] : ['--insecure']), '--outbound', '127.0.0.1:0', '--admin', '127.0.0.1:0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
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
    // A proxy that never says "listening" is killed: left running, its pipes would keep the test
    // file alive after the failure.
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`proxy did not start within ${timeoutMs} ms: ${stderr.join('\n')}`));
    }, timeoutMs);
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
            output: () => stderr.join('\n'),
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
  child.once('exit', () => children.delete(child));
  return p;
}

/**
 * startProxy runs `weft proxy --service S --bundle FILE` (with an inbound listener toward `app`
 * when given) through spawnProxy; `extra` flags are appended.
 */
export async function startProxy(opts: { service: string; bundle: string; app?: string; extra?: string[] }): Promise<ProxyProcess> {
  const args = ['--service', opts.service, '--bundle', opts.bundle];
  if (opts.app) args.push('--inbound', '127.0.0.1:0', '--app', opts.app);
  return spawnProxy([...args, ...(opts.extra ?? [])]);
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

/**
 * CALL_BOUND_MS bounds `call` and `getJson` (response head, then each gap in the body): undici's
 * own default is 300 s, as long as a whole test file may run.
 */
const CALL_BOUND_MS = 30_000;

/** call sends one request to `addr` with the given Host and reads the whole response (bounded: CALL_BOUND_MS; the error names the request). */
export async function call(addr: string, host: string, target = '/', opts: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<Res> {
  try {
    const r = await undiciRequest(`http://${addr}${target}`, {
      method: (opts.method ?? 'GET') as 'GET',
      headers: { host, ...opts.headers },
      body: opts.body ?? null,
      dispatcher: agent,
      headersTimeout: CALL_BOUND_MS,
      bodyTimeout: CALL_BOUND_MS,
    });
    const text = await r.body.text();
    return { status: r.statusCode, headers: r.headers, text, json: <T>() => JSON.parse(text) as T };
  } catch (err) {
    throw new Error(`${opts.method ?? 'GET'} ${host}${target} via ${addr}: ${(err as Error).message}`, { cause: err });
  }
}

/** getJson reads a JSON admin endpoint (bounded like `call`). */
export async function getJson<T>(addr: string, p: string): Promise<T> {
  try {
    const r = await undiciRequest(`http://${addr}${p}`, { dispatcher: agent, headersTimeout: CALL_BOUND_MS, bodyTimeout: CALL_BOUND_MS });
    return (await r.body.json()) as T;
  } catch (err) {
    throw new Error(`GET ${addr}${p}: ${(err as Error).message}`, { cause: err });
  }
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

/** AppRequest is what an App saw. */
export interface AppRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
}

/** App is a small upstream: answers with its name, records requests; behaviour can change live. */
export interface App {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  readonly seen: AppRequest[];
  /** Status to answer (default 200). */
  status: number;
  /** Delay before answering, ms. */
  delayMs: number;
  /** Requests being handled now, and the most at once. */
  inFlight: number;
  maxInFlight: number;
  close(): Promise<void>;
}

/** startApp starts an upstream on 127.0.0.1:0 whose body is its name. */
export async function startApp(name: string): Promise<App> {
  const sockets = new Set<Socket>();
  const app: App = {
    name,
    address: '127.0.0.1',
    port: 0,
    seen: [],
    status: 200,
    delayMs: 0,
    inFlight: 0,
    maxInFlight: 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  const server = http.createServer((req, res) => {
    app.seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    app.inFlight++;
    app.maxInFlight = Math.max(app.maxInFlight, app.inFlight);
    req.resume();
    const answer = (): void => {
      app.inFlight--;
      const body = `${name}\n`;
      res.writeHead(app.status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), 'x-app': name });
      res.end(body);
    };
    if (app.delayMs > 0) setTimeout(answer, app.delayMs);
    else answer();
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  (app as { port: number }).port = (server.address() as AddressInfo).port;
  return app;
}

/** Response is what `send` got back, with its wall time in ms. */
export interface Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  ms: number;
}

const httpAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });

/** send makes one request to `hostPort` with the given Host header and path (raw, not normalised). */
export function send(hostPort: string, host: string, target: string, opts: { method?: string; headers?: Record<string, string> } = {}): Promise<Response> {
  const i = hostPort.lastIndexOf(':');
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: hostPort.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(hostPort.slice(i + 1)), method: opts.method ?? 'GET', path: target, agent: httpAgent, headers: { host, ...(opts.headers ?? {}) } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, ms: performance.now() - started }));
        res.on('error', reject);
      },
    );
    req.setTimeout(20_000, () => req.destroy(new Error(`request ${target} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/** sendMany sends `n` requests with at most `concurrency` at once; results in order. */
export async function sendMany(n: number, concurrency: number, one: (i: number) => Promise<Response>): Promise<Response[]> {
  const out = new Array<Response>(n);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      out[i] = await one(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  return out;
}

/** getText fetches an admin document as text (Host: the address itself, as a scraper or curl sends it). */
export async function getText(hostPort: string, target: string): Promise<string> {
  return (await send(hostPort, hostPort, target)).body;
}

/** metricValue sums a Prometheus metric's samples whose labels include every given pair. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_]+)(\{[^}]*\})? ([0-9.eE+-]+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const l = m[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`))) sum += Number(m[3]);
  }
  return sum;
}

/** closeAgent drops pooled client sockets of both clients, so the test process can exit. */
export function closeAgent(): void {
  httpAgent.destroy();
  void agent.close();
}
