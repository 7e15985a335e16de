/**
 * `weft proxy --concurrency N` (N > 1): the same proxy in N worker processes (node:cluster), so a
 * shared or front proxy can use more than one core; a sidecar keeps the default, 1.
 *
 * The primary forks the workers with the same flags. Each worker is a whole proxy (its own bundle
 * source, reloader, pools, policy state); their listeners share the ports, and the primary hands
 * each new connection to the next worker (node:cluster's round-robin), so per-instance state —
 * rate-limit buckets, least-request counts, outlier ejections, retry budgets — is per worker, as
 * with N instances. The primary serves the admin listener: `/metrics` sums every worker's
 * registry (prom-client's AggregatorRegistry), `/ready` is 200 once every worker has a bundle,
 * `/healthz` 200, `/config` lists the workers, each with its own `/config` document. A worker that fails to start makes the primary exit
 * 2; one that dies later is replaced. SIGTERM/SIGINT go to every worker (each drains), then the
 * primary exits 0.
 */
import cluster, { type Worker } from 'node:cluster';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { aggregatorRegistry } from '../../runtime/prom-client.js';
import type { Logger } from '../../runtime/log.js';
import { dashboardHostCheck, isLoopbackAddress } from '../../runtime/host-check.js';
import { misdirected } from '../../runtime/proxy/admin.js';

/** WorkerMessage is what a worker tells the primary over the cluster channel. */
type WorkerMessage =
  | { readonly weft: 'listening'; readonly addresses: { outbound: string | null; inbound: string | null }; readonly ready: boolean }
  | { readonly weft: 'ready'; readonly ready: boolean }
  | { readonly weft: 'config'; readonly id: number; readonly config: unknown };

/** PrimaryMessage is what the primary asks a worker: its `/config` document. */
interface PrimaryMessage {
  readonly weft: 'config?';
  readonly id: number;
}

/** How long the primary's `/config` waits for a worker's document before listing it without one. */
const CONFIG_WAIT_MS = 5_000;

function isWorkerMessage(m: unknown): m is WorkerMessage {
  return typeof m === 'object' && m !== null && typeof (m as { weft?: unknown }).weft === 'string';
}

/** isWorker: this process is a proxy worker forked by `--concurrency`. */
export function isWorker(): boolean {
  return cluster.isWorker;
}

/**
 * workerStarted tells the primary this worker listens (its registry is what the primary's
 * /metrics sums), and returns the function that reports readiness changes.
 */
export function workerStarted(registry: Registry, addresses: { outbound: string | null; inbound: string | null }, ready: boolean, config: () => unknown): (ready: boolean) => void {
  const AggregatorRegistry = aggregatorRegistry();
  AggregatorRegistry.setRegistries([registry]);
  // prom-client answers the primary's metrics requests once an AggregatorRegistry exists here.
  new AggregatorRegistry();
  process.on('message', (m: unknown) => {
    const q = m as Partial<PrimaryMessage> | null;
    if (q?.weft === 'config?' && typeof q.id === 'number') process.send?.({ weft: 'config', id: q.id, config: config() } satisfies WorkerMessage);
  });
  process.send?.({ weft: 'listening', addresses, ready } satisfies WorkerMessage);
  return (r) => process.send?.({ weft: 'ready', ready: r } satisfies WorkerMessage);
}

/** PrimaryOptions: how many workers, where the admin listens, how long a worker may drain. */
export interface PrimaryOptions {
  readonly workers: number;
  readonly admin: { host: string; port: number } | null;
  readonly service: string;
  readonly drainDelayMs: number;
  readonly logger: Logger;
}

/**
 * runPrimary forks the workers and serves the admin listener; resolves with the exit code (2 when
 * a worker could not start, 0 after a signal).
 */
export function runPrimary(opts: PrimaryOptions): Promise<number> {
  const { logger } = opts;
  const state = new Map<Worker, { ready: boolean; listening: boolean; addresses: { outbound: string | null; inbound: string | null } | null }>();
  const aggregate = new (aggregatorRegistry())();
  let started = false;
  let stopping = false;
  let admin: Server | null = null;
  let adminAddress: string | null = null;
  const configWaiters = new Map<number, (config: unknown) => void>();
  let nextConfigId = 0;
  /** configOf asks `w` for its /config document; null when it does not answer in CONFIG_WAIT_MS. */
  const configOf = (w: Worker): Promise<unknown> =>
    new Promise((resolve) => {
      const id = ++nextConfigId;
      const done = (v: unknown): void => {
        clearTimeout(t);
        configWaiters.delete(id);
        resolve(v);
      };
      const t = setTimeout(() => done(null), CONFIG_WAIT_MS);
      configWaiters.set(id, done);
      try {
        w.send({ weft: 'config?', id } satisfies PrimaryMessage);
      } catch {
        done(null);
      }
    });

  return new Promise<number>((resolve) => {
    const finish = (code: number): void => {
      admin?.close();
      admin?.closeAllConnections();
      resolve(code);
    };
    const fork = (): void => {
      const w = cluster.fork();
      state.set(w, { ready: false, listening: false, addresses: null });
      w.on('message', (m: unknown) => {
        const s = state.get(w);
        if (!s || !isWorkerMessage(m)) return;
        if (m.weft === 'config') {
          configWaiters.get(m.id)?.(m.config);
        } else if (m.weft === 'listening') {
          s.listening = true;
          s.addresses = m.addresses;
          s.ready = m.ready;
          if (!started && [...state.values()].every((x) => x.listening)) void allListening();
        } else s.ready = m.ready;
      });
      w.on('exit', (code, signal) => {
        state.delete(w);
        if (stopping) {
          if (state.size === 0) {
            logger.log('info', 'stopped', {});
            finish(0);
          }
          return;
        }
        if (!started) {
          // The worker printed its own one-line reason; the others are stopped too.
          stopping = true;
          for (const other of state.keys()) other.process.kill('SIGTERM');
          if (state.size === 0) finish(2);
          else cluster.once('exit', () => state.size === 0 && finish(2));
          return;
        }
        logger.log('warn', 'worker exited; starting another', { pid: w.process.pid, code, signal });
        setTimeout(fork, 1_000).unref();
      });
    };
    const allListening = async (): Promise<void> => {
      started = true;
      if (opts.admin) {
        // On loopback, the same DNS-rebinding guard as a one-process proxy's admin listener.
        const hostCheck = isLoopbackAddress(opts.admin.host) ? dashboardHostCheck() : null;
        admin = createServer({ headersTimeout: 10_000, requestTimeout: 30_000 }, (req, res) => {
          if (hostCheck && !hostCheck(req.headers.host)) {
            misdirected(req.headers.host, (status, v) => {
              res.writeHead(status, { 'content-type': 'application/json' });
              res.end(JSON.stringify(v) + '\n');
            });
            return;
          }
          void serveAdmin(req.url ?? '/', res);
        });
        try {
          adminAddress = await new Promise<string>((ok, fail) => {
            admin!.once('error', fail);
            admin!.listen(opts.admin!.port, opts.admin!.host, () => {
              const a = admin!.address() as AddressInfo;
              ok(a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`);
            });
          });
        } catch (err) {
          logger.log('error', `admin listener cannot listen: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, {});
          stopping = true;
          for (const w of state.keys()) w.process.kill('SIGTERM');
          return;
        }
      }
      const first = [...state.values()][0]?.addresses ?? { outbound: null, inbound: null };
      logger.log('info', 'listening', { service: opts.service, ...first, admin: adminAddress, workers: state.size, ready: [...state.values()].every((s) => s.ready) });
    };
    const serveAdmin = async (url: string, res: import('node:http').ServerResponse): Promise<void> => {
      const path = url.split('?')[0];
      const workers = [...state.entries()].map(([w, s]) => ({ pid: w.process.pid, ready: s.ready, listening: s.listening }));
      const ready = workers.length === opts.workers && workers.every((w) => w.ready);
      if (path === '/metrics') {
        try {
          const text = await aggregate.clusterMetrics();
          res.writeHead(200, { 'content-type': aggregate.contentType });
          res.end(text);
        } catch (err) {
          res.writeHead(503, { 'content-type': 'text/plain' });
          res.end(`metrics unavailable: ${(err as Error).message}\n`);
        }
      } else if (path === '/ready') {
        res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' });
        res.end(ready ? 'ready\n' : 'not ready\n');
      } else if (path === '/healthz') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('ok\n');
      } else if (path === '/config') {
        // Each worker's own document (bundle, tables' steps, pools, policy state), as a proxy with
        // one process shows it, so --concurrency hides nothing an operator reads at /config.
        const configs = await Promise.all([...state.keys()].map((w) => configOf(w)));
        const body = JSON.stringify({ service: opts.service, concurrency: opts.workers, ready, workers: workers.map((w, i) => ({ ...w, config: configs[i] ?? null })) }, null, 2) + '\n';
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(body);
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('not found\n');
      }
    };
    const stop = (signal: NodeJS.Signals): void => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      stopping = true;
      logger.log('info', 'stopping', { signal, workers: state.size });
      for (const w of state.keys()) w.process.kill('SIGTERM');
      const force = setTimeout(() => {
        logger.log('warn', 'stopped before every worker exited', { afterMs: opts.drainDelayMs + 15_000 });
        for (const w of state.keys()) w.process.kill('SIGKILL');
        finish(0);
      }, opts.drainDelayMs + 15_000);
      force.unref();
      if (state.size === 0) finish(0);
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    for (let i = 0; i < opts.workers; i++) fork();
  });
}
