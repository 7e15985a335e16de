/**
 * A small discovery mesh of real processes on loopback for the discovery end-to-end tests and the
 * propagation bench: a controller over a git repository in which `reviews` has no endpoint
 * addresses (its instances register), instances of `reviews` (an app + `weft proxy` each), a
 * caller proxy for `web`, and a steady traffic driver that counts every answer.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Pool } from 'undici';
import {
  freePort, getJson, initRepo, spawnWeft, startController, waitFor, type Child, type ControllerProc,
} from '../controller/helpers.js';
import type { StatusDocument } from '../../runtime/controller/status-document.js';

/** MESH is the policy repository: `reviews` is fed by registration only; `web` calls it. */
export function meshRepo(opts: { outlier?: boolean; webEgress?: string[] } = {}): Record<string, string> {
  return {
    'services.yaml': `apiVersion: weft.dev/v1alpha1
kind: Service
metadata: { name: reviews }
spec:
  ports: [{ name: http, port: 9080 }]
---
apiVersion: weft.dev/v1alpha1
kind: Service
metadata: { name: web }
spec:
  ports: [{ name: http, port: 80 }]${opts.webEgress ? `\n  egress: [${opts.webEgress.join(', ')}]` : ''}
---
apiVersion: weft.dev/v1alpha1
kind: Service
metadata: { name: ratings }
spec:
  ports: [{ name: http, port: 9080 }]
`,
    'mesh.yaml': `apiVersion: weft.dev/v1alpha1
kind: MeshConfig
metadata: { name: mesh }
spec:
  defaults:
    retry: { attempts: 2, codes: [502, 503], backoff: 10ms }
`,
    ...(opts.outlier
      ? {
          'policy.yaml': `apiVersion: weft.dev/v1alpha1
kind: BackendPolicy
metadata: { name: reviews }
spec:
  targetRefs: [{ kind: Service, name: reviews }]
  outlierDetection: { consecutiveErrors: 1, interval: 1s, baseEjectionTime: 30s, maxEjectionPercent: 50 }
`,
        }
      : {}),
  };
}

/** App is an upstream that answers with its name; its health endpoint can be failed. */
export interface App {
  readonly name: string;
  readonly port: number;
  healthy: boolean;
  hits: number;
  /** The x-forwarded-client-cert its proxy sent with the last request (mTLS: the caller's identity). */
  lastXfcc: string | null;
  close(): Promise<void>;
}

const apps = new Set<App>();

/** closeApps closes every app still open (for `after` hooks: an open server keeps the test process alive). */
export async function closeApps(): Promise<void> {
  await Promise.all([...apps].map((a) => a.close()));
}

export async function startApp(name: string): Promise<App> {
  const app: { -readonly [K in keyof App]: App[K] } = { name, port: 0, healthy: true, hits: 0, lastXfcc: null, close: async () => {} };
  const server = http.createServer((req, res) => {
    if (req.url === '/healthz') {
      res.writeHead(app.healthy ? 200 : 503, { 'content-length': 0 });
      res.end();
      return;
    }
    app.hits++;
    const xfcc = req.headers['x-forwarded-client-cert'];
    app.lastXfcc = typeof xfcc === 'string' ? xfcc : null;
    const body = name;
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  app.port = (server.address() as AddressInfo).port;
  app.close = () =>
    new Promise<void>((r) => {
      apps.delete(app);
      if (!server.listening) return r();
      server.close(() => r());
      server.closeAllConnections();
    });
  apps.add(app);
  return app;
}

/** Instance is one registered `reviews` instance: its app and its proxy. */
export interface Instance {
  readonly name: string;
  readonly app: App;
  readonly proxy: Child;
  readonly inbound: string;
  readonly admin: string;
}

/**
 * Security is how a test proxy proves who it is: `--insecure` (the default), or a fresh one-use
 * join token from the mesh CA per proxy (`--ca CA --token-file F`).
 */
export type Security = { tokens: null } | { tokens: { caFile: string; token(service: string, dir: string, name: string): Promise<string> } };

const INSECURE: Security = { tokens: null };

async function securityArgs(security: Security, service: string, dir: string, name: string): Promise<string[]> {
  if (!security.tokens) return ['--insecure'];
  return ['--ca', security.tokens.caFile, '--token-file', await security.tokens.token(service, dir, name)];
}

/** startInstance starts an app and a registering `weft proxy` in front of it. */
export async function startInstance(ctl: { url: string }, name: string, dir: string, extra: string[] = [], security: Security = INSECURE): Promise<Instance> {
  const app = await startApp(name);
  const proxy = spawnWeft([
    'proxy', ...(await securityArgs(security, 'reviews', dir, name)), '--service', 'reviews', '--controller', ctl.url, '--inbound', '127.0.0.1:0', '--app', `http://127.0.0.1:${app.port}`,
    '--outbound', 'off', '--admin', '127.0.0.1:0', '--cache-dir', path.join(dir, `cache-${name}`), '--labels', `instance=${name}`,
    '--drain-delay', '1s', ...extra,
  ]);
  const line = await waitFor(() => proxy.logs.find((l) => l.event === 'listening' || l.msg === 'listening'), 60_000, `${name} listening`, proxy);
  return { name, app, proxy, inbound: String(line.inbound), admin: String(line.admin) };
}

/** startCaller starts the `web` proxy whose outbound listener the traffic goes through. */
export async function startCaller(ctl: { url: string }, dir: string, security: Security = INSECURE): Promise<Child & { outbound: string; admin: string }> {
  const proxy = spawnWeft(['proxy', ...(await securityArgs(security, 'web', dir, 'web')), '--service', 'web', '--controller', ctl.url, '--outbound', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--cache-dir', path.join(dir, 'cache-web')]);
  const line = await waitFor(() => proxy.logs.find((l) => l.event === 'listening' || l.msg === 'listening'), 60_000, 'web listening', proxy);
  return Object.assign(proxy, { outbound: String(line.outbound), admin: String(line.admin) });
}

/** startMeshController starts `weft controller` on a fixed free port (so a restart keeps the URL). */
export async function startMeshController(repo: string, store: string, leaseArg = '3s', port?: number): Promise<ControllerProc> {
  return startController(['--repo', repo, '--store', store, '--poll', '10s', '--lease', leaseArg], port ?? (await freePort()));
}

/** initMeshRepo writes the mesh into a new git repository at `dir`. */
export function initMeshRepo(dir: string, opts: { outlier?: boolean; webEgress?: string[] } = {}): Promise<string> {
  return initRepo(dir, meshRepo(opts));
}

/** readyInstances is how many `reviews` instances the controller lists as ready (status from the dashboard listener when there is one). */
export async function readyInstances(ctl: { url: string; dashboardUrl?: string }, service = 'default/reviews'): Promise<number> {
  const st = await getJson<StatusDocument>(`${ctl.dashboardUrl ?? ctl.url}/v1/status`);
  return st.discovery.services.find((s) => s.service === service)?.ready ?? 0;
}

/** Traffic counts every answer of a steady request stream through the caller. */
export interface Traffic {
  ok: number;
  failed: number;
  /** Failed answers, status and body, the first 20. */
  failures: string[];
  /** Requests answered 200, by the instance that answered. */
  byInstance: Map<string, number>;
  stop(): Promise<void>;
  /** reset zeroes the counters (not the stream). */
  reset(): void;
}

/**
 * startTraffic sends GETs to `reviews` through the caller's outbound listener, `concurrency` at a
 * time on keep-alive connections, until stopped.
 */
export function startTraffic(outbound: string, concurrency = 4): Traffic {
  const pool = new Pool(`http://${outbound}`, { connections: concurrency });
  let running = true;
  const t: Traffic = {
    ok: 0,
    failed: 0,
    failures: [],
    byInstance: new Map(),
    reset() {
      t.ok = 0;
      t.failed = 0;
      t.failures = [];
      t.byInstance = new Map();
    },
    async stop() {
      running = false;
      await Promise.all(workers);
      await pool.close();
    },
  };
  const worker = async (): Promise<void> => {
    while (running) {
      try {
        const res = await pool.request({ method: 'GET', path: '/reviews/1', headers: { host: 'reviews' }, headersTimeout: 10_000, bodyTimeout: 10_000 });
        const body = await res.body.text();
        if (res.statusCode === 200) {
          t.ok++;
          t.byInstance.set(body, (t.byInstance.get(body) ?? 0) + 1);
        } else {
          t.failed++;
          if (t.failures.length < 20) t.failures.push(`${res.statusCode} ${body.slice(0, 160)}`);
        }
      } catch (err) {
        t.failed++;
        if (t.failures.length < 20) t.failures.push(String(err));
      }
    }
  };
  const workers = Array.from({ length: concurrency }, () => worker());
  return t;
}

/** until waits for `fn` to be truthy (polling), at most `ms`. */
export function until(fn: () => boolean | Promise<boolean>, ms: number, what: string): Promise<true> {
  return waitFor(async () => ((await fn()) ? true : null), ms, what);
}

/** exitCodeOf waits (at most `ms`) for a process to exit and returns its code; throws naming `what` on timeout. */
export async function exitCodeOf(child: Child, ms: number, what: string): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what} to exit`)), ms);
  });
  try {
    return await Promise.race([child.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
