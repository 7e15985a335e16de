/**
 * Helpers for the policy end-to-end tests: real `weft proxy` processes (the compiled CLI) and
 * small upstream apps on loopback, plus a keep-alive HTTP client. Everything listens on port 0,
 * so tests never collide; every process started is killed on exit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Bundle } from '../../schemas/bundle.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** WEFT is the compiled CLI (this file runs from dist/test/policy). */
export const WEFT = path.resolve(here, '..', '..', 'bin', 'weft.js');

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

/** sleep waits `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** tempDir makes a temporary directory; `cleanup` removes it. */
export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'weft-policy-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** writeBundle writes a bundle atomically (write then rename), as a controller or kubelet would. */
export async function writeBundle(file: string, b: Bundle): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
  await writeFile(tmp, JSON.stringify(b));
  await rename(tmp, file);
}

/** AppRequest is what an upstream app saw. */
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
  const sockets = new Set<import('node:net').Socket>();
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

/** Proxy is a running `weft proxy` process. */
export interface Proxy {
  readonly outbound: string | null;
  readonly inbound: string | null;
  readonly admin: string;
  output(): string;
  stop(): Promise<void>;
}

/** startProxy runs `weft proxy` on a bundle file and waits for its `listening` line. */
export async function startProxy(opts: { service: string; bundle: string; app?: string; extra?: string[] }): Promise<Proxy> {
  const identity = (opts.extra ?? []).some((a) => a === '--ca' || a === '--cert') ? [] : ['--insecure'];
  const args = [WEFT, 'proxy', ...identity, '--service', opts.service, '--bundle', opts.bundle, '--outbound', '127.0.0.1:0', '--admin', '127.0.0.1:0'];
  if (opts.app) args.push('--inbound', '127.0.0.1:0', '--app', opts.app);
  args.push(...(opts.extra ?? []));
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  children.add(child);
  let out = '';
  const listening = await new Promise<{ outbound: string | null; inbound: string | null; admin: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`proxy ${opts.service} did not start:\n${out}`)), 15_000);
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      out += chunk;
      for (const line of out.split('\n')) {
        if (!line.includes('"listening"')) continue;
        try {
          const v = JSON.parse(line) as { outbound: string | null; inbound: string | null; admin: string };
          clearTimeout(timer);
          resolve(v);
        } catch {
          // partial line; wait for more
        }
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`proxy ${opts.service} exited with ${code}:\n${out}`));
    });
  });
  return {
    ...listening,
    output: () => out,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => {
          children.delete(child);
          resolve();
        });
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }),
  };
}

/** Response is what `send` got back. */
export interface Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  ms: number;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

/** send makes one request to `hostPort` with the given Host header and path (raw, not normalised). */
export function send(hostPort: string, host: string, target: string, opts: { method?: string; headers?: Record<string, string> } = {}): Promise<Response> {
  const [h, p] = splitHostPort(hostPort);
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request({ host: h, port: p, method: opts.method ?? 'GET', path: target, agent, headers: { host, ...(opts.headers ?? {}) } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, ms: performance.now() - started }));
      res.on('error', reject);
    });
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

/** getText fetches an admin document as text. */
export async function getText(hostPort: string, target: string): Promise<string> {
  return (await send(hostPort, 'admin', target)).body;
}

/** waitForDigest waits until the proxy's /config reports `digest` as active. */
export async function waitForDigest(admin: string, digest: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await getText(admin, '/config').catch(() => '');
    if (text.includes(digest)) return;
    if (Date.now() > deadline) throw new Error(`proxy at ${admin} never activated ${digest}: ${text.slice(0, 400)}`);
    await sleep(100);
  }
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

function splitHostPort(hp: string): [string, number] {
  const i = hp.lastIndexOf(':');
  return [hp.slice(0, i).replace(/^\[|\]$/g, ''), Number(hp.slice(i + 1))];
}

/** closeAgent drops pooled client sockets, so the test process can exit. */
export function closeAgent(): void {
  agent.destroy();
}
