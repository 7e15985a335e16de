/**
 * Shared fixtures for the controller tests: throw-away git repositories with real policy YAML,
 * the real `weft` CLI as child processes (every one tracked and killed, even when a test fails),
 * and small polling helpers. Loopback only.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { request } from 'undici';

const run = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
/** WEFT is the compiled CLI (dist/bin/weft.js). */
export const WEFT = path.resolve(here, '..', '..', 'bin', 'weft.js');

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});
// The test runner ends a timed-out file with a signal: take the children down with it.
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    for (const c of children) c.kill('SIGKILL');
    process.exit(130);
  });
}

/** tmpDir makes a fresh temporary directory; removeTmp deletes it. */
export function tmpDir(prefix: string): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), `weft-${prefix}-`));
}

export async function removeTmp(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true }).catch(() => undefined);
}

const gitEnv = {
  ...process.env,
  GIT_AUTHOR_NAME: 'Test Author',
  GIT_AUTHOR_EMAIL: 'author@example.org',
  GIT_COMMITTER_NAME: 'Test Author',
  GIT_COMMITTER_EMAIL: 'author@example.org',
  GIT_CONFIG_NOSYSTEM: '1',
  HOME: os.tmpdir(),
};

/** git runs git in `dir` and returns trimmed stdout. */
export async function git(dir: string, ...args: string[]): Promise<string> {
  const { stdout } = await run('git', ['-c', 'commit.gpgsign=false', ...args], { cwd: dir, env: gitEnv });
  return stdout.trim();
}

/** writeFiles writes (or, for null, deletes) files relative to `dir`. */
export async function writeFiles(dir: string, files: Record<string, string | null>): Promise<void> {
  for (const [rel, text] of Object.entries(files)) {
    const f = path.join(dir, rel);
    if (text === null) await rm(f, { force: true });
    else {
      await mkdir(path.dirname(f), { recursive: true });
      await writeFile(f, text);
    }
  }
}

/** initRepo makes a repository on branch main with `files` as the first commit; returns its SHA. */
export async function initRepo(dir: string, files: Record<string, string>): Promise<string> {
  await mkdir(dir, { recursive: true });
  await git(dir, 'init', '-q', '-b', 'main');
  return commit(dir, files, 'initial policies');
}

/** commit writes `files`, commits everything, and returns the new commit's SHA. */
export async function commit(dir: string, files: Record<string, string | null>, message: string): Promise<string> {
  await writeFiles(dir, files);
  await git(dir, 'add', '-A');
  await git(dir, 'commit', '-q', '--allow-empty', '-m', message);
  return git(dir, 'rev-parse', 'HEAD');
}

/** MeshOptions shape the test mesh: Service `web` split between `web-v1` and `web-v2`. */
export interface MeshOptions {
  v1Port: number;
  v2Port: number;
  /** Weights of web-v1 and web-v2 (percent). */
  weights: [number, number];
  /** Extra services (for size), named svc-0000 .. */
  extraServices?: number;
  /** A label that changes the digest without changing routing (e.g. a commit counter). */
  marker?: string;
}

/** meshFiles is a small, valid policy tree in real Weft YAML. */
export function meshFiles(o: MeshOptions): Record<string, string> {
  const svc = (name: string, port: number, version: string): string =>
    `apiVersion: weft.dev/v1alpha1\nkind: Service\nmetadata: { name: ${name} }\nspec:\n  ports: [{ name: http, port: 80 }]\n  endpoints:\n    - { address: 127.0.0.1, port: ${port}, labels: { version: ${version}${o.marker ? `, marker: "${o.marker}"` : ''} } }\n`;
  const files: Record<string, string> = {
    'services/web.yaml': [svc('web', o.v1Port, 'v1'), svc('web-v1', o.v1Port, 'v1'), svc('web-v2', o.v2Port, 'v2')].join('---\n'),
    'routes/web.yaml': `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: web }
spec:
  parentRefs: [{ kind: Service, name: web, port: 80 }]
  rules:
    - matches: [{ path: { type: PathPrefix, value: / } }]
      backendRefs:
        - { name: web-v1, port: 80, weight: ${o.weights[0]} }
        - { name: web-v2, port: 80, weight: ${o.weights[1]} }
`,
  };
  const n = o.extraServices ?? 0;
  if (n > 0) {
    const docs: string[] = [];
    for (let i = 0; i < n; i++) docs.push(svc(`svc-${String(i).padStart(4, '0')}`, 20000 + (i % 1000), 'v1'));
    files['services/many.yaml'] = docs.join('---\n');
  }
  return files;
}

/** BAD_ROUTE is a policy file that fails to compile (WFT403: backend does not exist). */
export const BAD_ROUTE = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: broken }
spec:
  parentRefs: [{ kind: Service, name: web, port: 80 }]
  rules:
    - matches: [{ path: { type: PathPrefix, value: /broken } }]
      backendRefs: [{ name: does-not-exist, port: 80 }]
`;

/** Child is a running `weft` process with its JSON log lines. */
export interface Child {
  proc: ChildProcess;
  /** Parsed stderr JSON lines (non-JSON lines kept as {raw}). */
  logs: Record<string, unknown>[];
  stdout: string[];
  /** Resolves when the process has exited. */
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** spawnWeft starts `node dist/bin/weft.js ...args`; the process is killed at exit if still alive. */
export function spawnWeft(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Child {
  const proc = spawn(process.execPath, [WEFT, ...args], {
    cwd: opts.cwd ?? os.tmpdir(),
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(proc);
  const logs: Record<string, unknown>[] = [];
  const stdout: string[] = [];
  let buf = '';
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        logs.push({ raw: line });
      }
    }
  });
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => stdout.push(d));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => {
    children.delete(proc);
    resolve(code);
  }));
  return {
    proc,
    logs,
    stdout,
    exited,
    async kill(signal = 'SIGKILL') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      await Promise.race([exited, sleep(5000)]);
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    },
  };
}

/** killAll kills every child still running (for `after` hooks). */
export async function killAll(): Promise<void> {
  await Promise.all([...children].map((c) => {
    c.kill('SIGKILL');
    return new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r(null) : c.once('exit', r)));
  }));
}

/** Controller is a running `weft controller` on a loopback port. */
export interface ControllerProc extends Child {
  url: string;
  port: number;
  /** The --dashboard listener, when the test asked for one. */
  dashboardUrl?: string;
}

/**
 * startController runs `weft controller` on 127.0.0.1 (port 0 unless `port`), waits for
 * "listening". Without --ca-dir it adds --insecure; without --dashboard, `--dashboard off` (the
 * default port is fixed, and tests run side by side). `dashboardUrl` is set when one listens.
 */
export async function startController(args: string[], port = 0): Promise<ControllerProc> {
  const extra = [
    ...(args.includes('--ca-dir') || args.includes('--insecure') ? [] : ['--insecure']),
    ...(args.includes('--dashboard') ? [] : ['--dashboard', 'off']),
  ];
  const child = spawnWeft(['controller', '--listen', `127.0.0.1:${port}`, ...extra, ...args]);
  const line = await waitFor(() => child.logs.find((l) => l.msg === 'listening'), 15_000, 'controller listening', child);
  const p = Number(line.port);
  const dash = args.includes('--dashboard') ? await waitFor(() => child.logs.find((l) => l.msg === 'dashboard listening'), 15_000, 'dashboard listening', child) : null;
  return Object.assign(child, {
    url: `${args.includes('--ca-dir') ? 'https' : 'http'}://127.0.0.1:${p}`,
    port: p,
    ...(dash ? { dashboardUrl: `http://127.0.0.1:${Number(dash.port)}` } : {}),
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** waitFor polls `fn` until it returns a truthy value; throws after `timeoutMs` naming `what`. */
export async function waitFor<T>(fn: () => T | Promise<T>, timeoutMs: number, what: string, child?: Child): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (child && child.proc.exitCode !== null) throw new Error(`${what}: process exited (${child.proc.exitCode}); log: ${JSON.stringify(child.logs.slice(-5))}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    await sleep(25);
  }
}

/** getJson GETs a URL and parses the JSON body (throws on non-2xx). */
export async function getJson<T = Record<string, unknown>>(url: string): Promise<T> {
  const res = await request(url, { headersTimeout: 10_000, bodyTimeout: 10_000 });
  if (res.statusCode >= 300) {
    await res.body.dump();
    throw new Error(`GET ${url}: ${res.statusCode}`);
  }
  return (await res.body.json()) as T;
}

/** Status is the part of /v1/status the tests read. */
export interface Status {
  ready: boolean;
  current: { digest: string; commit: { commit: string; message: string } | null; signedBy: string | null } | null;
  lastCompile: { ok: boolean; commit: { commit: string }; digest: string | null; diagnostics: { code: string; file: string | null; line: number }[] } | null;
  proxies: { proxy: string; service: string; digest: string | null; state: string; behind: boolean; lost: boolean }[];
}

/** statusOf reads /v1/status. */
export function statusOf(ctl: { url: string }): Promise<Status> {
  return getJson<Status>(`${ctl.url}/v1/status`);
}

/** waitCompiled waits until the controller's last compile is of `commit`. */
export function waitCompiled(ctl: ControllerProc, commitSha: string, timeoutMs = 30_000): Promise<Status> {
  return waitFor(async () => {
    const s = await statusOf(ctl);
    return s.lastCompile?.commit.commit === commitSha ? s : null;
  }, timeoutMs, `compile of ${commitSha.slice(0, 8)}`, ctl);
}

/** EchoServer answers every request with its name (and the path it saw) as JSON. */
export interface EchoServer {
  port: number;
  hits: number;
  close(): Promise<void>;
}

export async function echoServer(name: string): Promise<EchoServer> {
  const state = { hits: 0 };
  const server = http.createServer((req, res) => {
    state.hits++;
    const body = JSON.stringify({ name, path: req.url });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    get hits() {
      return state.hits;
    },
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

/** freePort asks the kernel for a free loopback port (racy, but fine for tests on loopback). */
export async function freePort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** ProxyProc is a running `weft proxy --controller` with its outbound and admin addresses. */
export interface ProxyProc extends Child {
  outbound: string;
  admin: string;
}

/** startProxy runs `weft proxy --controller URL` on loopback ports it picks, and waits for "listening". */
export async function startProxy(controllerUrl: string, service: string, cacheDir: string, extra: string[] = []): Promise<ProxyProc> {
  const child = spawnWeft(['proxy', '--insecure', '--service', service, '--controller', controllerUrl, '--outbound', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--cache-dir', cacheDir, ...extra]);
  const line = await waitFor(() => child.logs.find((l) => l.msg === 'listening'), 60_000, 'proxy listening', child);
  return Object.assign(child, { outbound: String(line.outbound), admin: String(line.admin) });
}

/** callThrough sends GET `path` with Host `host` to a proxy's outbound listener; resolves to status and body. */
export function callThrough(outbound: string, host: string, urlPath = '/'): Promise<{ status: number; body: string }> {
  const [h, p] = [outbound.slice(0, outbound.lastIndexOf(':')), Number(outbound.slice(outbound.lastIndexOf(':') + 1))];
  return new Promise((resolve, reject) => {
    const req = http.request({ host: h, port: p, path: urlPath, headers: { host }, agent: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** configOf reads a proxy's admin /config. */
export function configOf(p: ProxyProc): Promise<{ active: { digest: string } | null } & Record<string, unknown>> {
  return getJson(`http://${p.admin}/config`);
}
