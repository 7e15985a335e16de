/**
 * runDemo is `weft up`: a whole mesh on loopback, driven by a real git repository.
 *
 *   .weft/demo   git repository seeded from policies/ (the user commits here)
 *   .weft/ca     the mesh CA (made on the first run); each proxy bootstraps with a join token
 *   controller   `weft controller --ca-dir` watching that repository; serves bundles over mTLS
 *                and the dashboard on its plain-HTTP dashboard listener
 *   apps         one child process running the bookinfo-style apps (runtime/demo/apps.ts)
 *   proxies      one `weft proxy --controller` per instance, inbound on a free port; each registers
 *                its instance with the controller (the policies list no endpoint addresses)
 *   traffic      this process: a steady stream to productpage, counted per reviews backend,
 *                posted to the controller every second for the dashboard's chart
 *
 * Start order is controller, apps, proxies, traffic; stop order is the reverse, and every
 * child is stopped (SIGTERM, then SIGKILL after a grace period) before runDemo resolves.
 */
import { mkdir, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { request } from 'undici';
import { acquireLock, LockHeld, type DemoLock } from './lock.js';
import { seedRepository, type SeedResult } from './seed.js';
import { declaredEndpoints } from './service-endpoints.js';
import { declaredInboundPorts, INSTANCES } from './topology.js';
import { isPortFree, PortAllocator } from './ports.js';
import { ChildSet, type ManagedChild } from './children.js';
import type { AppSpec } from './apps.js';
import { LoadGenerator } from './loadgen.js';
import { readController, readProxy, readyEndpointsOf, waitFor, type ControllerView, type ProxyView } from './mesh-watch.js';
import { summarize } from './traffic.js';
import { convergence, renderBlock, renderLine, shortDigest, TtyView } from './view.js';
import { renderBanner } from './banner.js';
import { DemoError } from './errors.js';
import { demoIdentity, type DemoIdentity } from './identity.js';
import { packageRoot, weftEntry } from './package-root.js';
import { ENDPOINT_CACHE_FILE } from '../discovery/endpoint-cache.js';

/** DemoOptions are `weft up`'s flags, parsed. */
export interface DemoOptions {
  /** Where `.weft/` goes (the user's current directory). */
  cwd: string;
  /** The policies the repository is seeded from (first run only). */
  policies: string;
  /** Requests per second of generated traffic. */
  rate: number;
  /** Stop by itself after this long (tests); null runs until a signal. */
  durationMs: number | null;
  /** Always move endpoints to fresh ports when seeding (parallel demos, tests). */
  pickPorts: boolean;
  /** Preferred controller (and dashboard) port; another is picked when it is busy. */
  controllerPort: number;
  out: NodeJS.WriteStream;
  err: NodeJS.WritableStream;
}

/** Running is what a started demo is made of; the lock file records the same. */
interface Running {
  children: ChildSet;
  /** The controller's main listener (TLS: proxies) and its dashboard listener (plain: people, status). */
  controllerUrl: string;
  dashboardUrl: string;
  identity: DemoIdentity;
  proxies: { name: string; admin: string }[];
  inbound: Map<string, number>;
}

async function httpOk(url: string): Promise<boolean> {
  try {
    const res = await request(url, { headersTimeout: 2000, bodyTimeout: 2000 });
    await res.body.dump();
    return res.statusCode === 200;
  } catch {
    return false;
  }
}

function exitedEarly(child: ManagedChild): boolean {
  return child.process.exitCode !== null || child.process.signalCode !== null;
}

/** logHint quotes the last line of a child's log and points at the file. */
function logHint(child: ManagedChild, cwd: string): string {
  let last = '';
  try {
    last = readFileSync(child.logFile, 'utf8').trim().split('\n').pop() ?? '';
  } catch {
    // No log: only the pointer.
  }
  return `${last ? `${last.slice(0, 300)}; ` : ''}see ${path.relative(cwd, child.logFile) || child.logFile}`;
}

/** Interrupted: a signal arrived during start-up; start-up stops where it is. */
class Interrupted extends Error {}

async function waitReady(child: ManagedChild, url: string, timeoutMs: number, cwd: string, what: string, stopping: () => boolean): Promise<void> {
  const ok = await waitFor(async () => stopping() || exitedEarly(child) || (await httpOk(url)), timeoutMs, 150);
  if (exitedEarly(child)) throw new DemoError(`${what} exited during start-up (code ${child.process.exitCode ?? child.process.signalCode}): ${logHint(child, cwd)}`);
  if (stopping()) throw new Interrupted();
  if (!ok) throw new DemoError(`${what} did not become ready within ${Math.round(timeoutMs / 1000)}s; ${logHint(child, cwd)}`);
}

function waitAppsReady(proc: ChildProcess, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new DemoError(`the demo apps did not start within ${timeoutMs / 1000}s`)), timeoutMs);
    proc.on('message', (m: unknown) => {
      const msg = m as { type?: string; message?: string };
      clearTimeout(timer);
      if (msg.type === 'ready') resolve();
      else reject(new DemoError(`the demo apps could not start: ${msg.message ?? 'unknown error'}`));
    });
    proc.once('exit', () => {
      clearTimeout(timer);
      reject(new DemoError('the demo apps exited during start-up'));
    });
  });
}

/**
 * startMesh starts controller, apps and proxies, in that order, each waited for. On failure it
 * stops whatever it started and rethrows.
 */
async function startMesh(opts: DemoOptions, seed: SeedResult, dirs: { state: string; logs: string }, lock: DemoLock, onExit: (c: ManagedChild, how: number | string) => void, stopping: () => boolean): Promise<Running> {
  // Pinned ports first (a repository whose Services list endpoints); the rest are picked below.
  const inbound = declaredInboundPorts(await declaredEndpoints(seed.repo));
  const busy: number[] = [];
  for (const [, port] of inbound) if (!(await isPortFree(port))) busy.push(port);
  if (busy.length > 0) {
    throw new DemoError(
      `endpoint port(s) ${busy.join(', ')} declared in ${seed.repo} are in use; stop whatever listens there, or remove ${path.relative(opts.cwd, seed.repo) || seed.repo} to reseed on free ports`,
    );
  }
  const alloc = new PortAllocator();
  alloc.reserve(...inbound.values());
  // The preferred port is the dashboard's: that is the URL people open.
  const dashboardPort = await alloc.next(opts.pickPorts ? undefined : opts.controllerPort);
  const controllerPort = await alloc.next();
  const controllerUrl = `https://127.0.0.1:${controllerPort}`;
  const dashboardUrl = `http://127.0.0.1:${dashboardPort}`;
  const identity = await demoIdentity(dirs.state);
  const node = process.execPath;
  const weft = weftEntry(packageRoot());
  const children = new ChildSet((child, code, signal) => onExit(child, code ?? signal ?? 'unknown'));
  const log = (name: string): string => path.join(dirs.logs, `${name}.log`);
  try {
    const controller = children.start({
      name: 'controller',
      command: node,
      args: [weft, 'controller', '--repo', seed.repo, '--branch', seed.branch, '--listen', `127.0.0.1:${controllerPort}`, '--ca-dir', identity.caDir, '--dashboard', `127.0.0.1:${dashboardPort}`, '--store', path.join(dirs.state, 'store'), '--whole-bundles'],
      logFile: log('controller'),
      stopLast: true,
    });
    await lock.update({ controller: dashboardUrl, children: children.list().map((c) => ({ name: c.name, pid: c.pid })) });
    await waitReady(controller, `${dashboardUrl}/healthz`, 30_000, opts.cwd, 'the controller', stopping);
    // Let the first compile finish before seven proxies start competing for the CPU (a CUE
    // evaluation on a busy two-core machine takes seconds). A HEAD that does not compile, with
    // no stored bundle, still lets the mesh start: the proxies wait and the view says why.
    await waitFor(async () => {
      const c = await readController(dashboardUrl);
      return stopping() || exitedEarly(controller) || c.digest !== null || c.lastCompile !== null;
    }, 90_000, 250);
    if (stopping()) throw new Interrupted();

    const ports = new Map<string, { app: number; outbound: number; admin: number }>();
    for (const inst of INSTANCES) ports.set(inst.name, { app: await alloc.next(), outbound: await alloc.next(), admin: await alloc.next() });
    for (const inst of INSTANCES) if (!inbound.has(inst.name)) inbound.set(inst.name, await alloc.next());
    const specs: AppSpec[] = INSTANCES.map((inst) => {
      const p = ports.get(inst.name);
      if (!p) throw new Error(`no ports for ${inst.name}`);
      return { instance: inst.name, service: inst.service, version: inst.version, port: p.app, outbound: `127.0.0.1:${p.outbound}`, calls: inst.calls };
    });
    const apps = children.start({
      name: 'apps',
      command: node,
      args: [path.join(packageRoot(), 'dist', 'runtime', 'demo', 'apps-main.js'), '--weft-demo-apps'],
      env: { WEFT_DEMO_APPS: JSON.stringify(specs) },
      logFile: log('apps'),
      ipc: true,
    });
    await waitAppsReady(apps.process, 20_000);
    if (stopping()) throw new Interrupted();

    const proxies: { name: string; admin: string }[] = [];
    for (const inst of INSTANCES) {
      const p = ports.get(inst.name);
      const inPort = inbound.get(inst.name);
      if (!p || inPort === undefined) throw new Error(`no ports for ${inst.name}`);
      const admin = `127.0.0.1:${p.admin}`;
      const tokenFile = await identity.tokenFile(inst.name, inst.proxyService);
      // Every instance of the previous run is gone (this run's apps and proxies have new ports),
      // and the controller warms its registry for a lease before it drops anyone, so a proxy that
      // restored last run's endpoint sets would dial dead ports for ~15 s. The bundle stays cached.
      await rm(path.join(dirs.state, 'cache', inst.name, ENDPOINT_CACHE_FILE), { force: true });
      children.start({
        name: inst.name,
        command: node,
        args: [
          weft, 'proxy',
          '--ca', identity.caFile,
          '--token-file', tokenFile,
          '--service', inst.proxyService,
          '--controller', controllerUrl,
          '--outbound', `127.0.0.1:${p.outbound}`,
          '--inbound', `127.0.0.1:${inPort}`,
          '--app', `http://127.0.0.1:${p.app}`,
          // The proxy registers 127.0.0.1:inPort (its inbound address) as an instance of its Service.
          '--labels', `version=${inst.version}`,
          '--admin', admin,
          '--cache-dir', path.join(dirs.state, 'cache', inst.name),
        ],
        logFile: log(inst.name),
      });
      proxies.push({ name: inst.name, admin });
    }
    const adminOf = new Map(proxies.map((p) => [p.name, p.admin]));
    await lock.update({ children: children.list().map((c) => ({ name: c.name, pid: c.pid, ...(adminOf.has(c.name) ? { admin: adminOf.get(c.name) } : {}) })) });
    // A proxy is ready once it holds a bundle. With no bundle to give (the HEAD does not compile
    // and nothing is stored) they cannot be: only wait for them to answer, and let the view say why.
    const hasBundle = (await readController(dashboardUrl)).digest !== null;
    const procs = new Map(children.list().map((c) => [c.name, c]));
    await Promise.all(
      proxies.map(async (p) => {
        const child = procs.get(p.name);
        if (!child) return;
        const probe = `http://${p.admin}/${hasBundle ? 'ready' : 'healthz'}`;
        await waitFor(async () => stopping() || exitedEarly(child) || (await httpOk(probe)), 45_000, 200);
        if (exitedEarly(child)) throw new DemoError(`proxy ${p.name} exited during start-up (code ${child.process.exitCode ?? child.process.signalCode}): ${logHint(child, opts.cwd)}`);
      }),
    );
    // Traffic starts once every proxy routes to a registered instance of every demo Service:
    // registration and the endpoint stream take a round-trip or two after /ready.
    if (hasBundle) {
      const services = INSTANCES.map((i) => `default/${i.proxyService}`);
      const seen = await waitFor(async () => {
        if (stopping()) return true;
        const views = await Promise.all(proxies.map((p) => readyEndpointsOf(p.admin)));
        return views.every((v) => services.every((s) => (v.get(s) ?? 0) > 0));
      }, 45_000, 200);
      if (stopping()) throw new Interrupted();
      if (!seen) throw new DemoError(`the proxies did not learn every instance within 45s (registration); see ${path.relative(opts.cwd, dirs.logs) || dirs.logs}/*.log`);
    }
    return { children, controllerUrl, dashboardUrl, identity, proxies, inbound };
  } catch (err) {
    await children.stopAll(3000);
    throw err;
  }
}

/** postTraffic sends the newest samples to the controller's dashboard store (best effort). */
async function postTraffic(controllerUrl: string, identity: DemoIdentity, gen: LoadGenerator): Promise<void> {
  try {
    const body = JSON.stringify({ source: 'weft-up', samples: gen.window.last(10) });
    const res = await request(`${controllerUrl}/v1/traffic`, { method: 'POST', body, dispatcher: identity.controllerClient, headers: { 'content-type': 'application/json' }, headersTimeout: 2000, bodyTimeout: 2000 });
    await res.body.dump();
  } catch {
    // The chart misses a second; the terminal view still has it.
  }
}

/** runDemo runs the demo until a signal or `durationMs`; resolves to the exit code. */
export async function runDemo(opts: DemoOptions): Promise<number> {
  const state = path.join(opts.cwd, '.weft');
  const dirs = { state, logs: path.join(state, 'logs') };
  await mkdir(dirs.logs, { recursive: true });
  let lock: DemoLock;
  try {
    lock = await acquireLock(path.join(state, 'up.lock'), (stale) => {
      opts.err.write(`weft up: a previous run (pid ${stale.state.pid}) did not stop cleanly; cleaned up its lock${stale.stopped.length > 0 ? ` and stopped ${stale.stopped.length} leftover process(es)` : ''}\n`);
    });
  } catch (err) {
    if (err instanceof LockHeld) {
      opts.err.write(`weft up: ${err.message}\n`);
      return 1;
    }
    throw err;
  }

  let stopRequested: (why: string) => void = () => {};
  const stopped = new Promise<string>((resolve) => {
    stopRequested = resolve;
  });
  const onSignal = (sig: NodeJS.Signals): void => stopRequested(sig);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  let exitCode = 0;
  /** Set once processes may have started: only then is there anything to say about stopping. */
  let began = false;
  let running: Running | null = null;
  let gen: LoadGenerator | null = null;
  let ticker: NodeJS.Timeout | undefined;
  try {
    const seed = await seedRepository({ policies: opts.policies, repo: path.join(state, 'demo'), pickPorts: opts.pickPorts });
    if (seed.created) opts.out.write(`seeded ${seed.repo} from ${opts.policies}\n`);
    if (seed.moved.length > 0) {
      const why = opts.pickPorts ? '--pick-ports' : 'the declared ports were busy';
      opts.out.write(`endpoint ports moved in the seed (${why}): ${seed.moved.map((m) => `${m.from}->${m.to}`).join(', ')}\n`);
    }
    opts.out.write('starting the controller, the demo apps and 7 proxies ...\n');
    began = true;

    let stopping = false;
    void stopped.then(() => (stopping = true));
    const startup = startMesh(
      opts,
      seed,
      dirs,
      lock,
      (child, how) => {
        exitCode = 1;
        stopRequested(`${child.name} exited unexpectedly (${how}); see ${path.relative(opts.cwd, child.logFile)}`);
      },
      () => stopping,
    );
    const first = await Promise.race([startup.then((r) => ({ r })), stopped.then((why) => ({ why }))]);
    if ('why' in first) {
      // Stopped during start-up (a signal, or a child died): let start-up settle, then stop it
      // all. A start-up error says more than "exited unexpectedly", so it wins.
      const outcome = await startup.then(
        (r) => ({ r, e: null }),
        (e: unknown) => ({ r: null, e }),
      );
      running = outcome.r;
      if (outcome.e !== null && !(outcome.e instanceof Interrupted)) throw outcome.e;
      if (!first.why.startsWith('SIG')) opts.err.write(`weft up: ${first.why}\n`);
      return exitCode;
    }
    running = first.r;
    const dashboard = `${running.dashboardUrl}/`;
    await lock.update({ dashboard, repo: seed.repo, mesh: running.controllerUrl, ready: true });

    gen = new LoadGenerator({ target: `http://127.0.0.1:${running.inbound.get('productpage') ?? 0}`, host: 'productpage', path: '/productpage', rate: opts.rate });
    gen.start();
    opts.out.write(
      renderBanner({ dashboard, repo: seed.repo, branch: seed.branch, logs: dirs.logs, created: seed.created, moved: seed.moved, rate: opts.rate, proxies: INSTANCES.length, cwd: opts.cwd }) + '\n',
    );

    const tty = opts.out.isTTY ? new TtyView(opts.out) : null;
    const color = tty !== null && !process.env.NO_COLOR;
    let lastCompileSeen = '';
    let lastConverged = '';
    let tick = 0;
    const r = running;
    const g = gen;
    let busy = false;
    ticker = setInterval(() => {
      if (busy) return;
      busy = true;
      void (async () => {
        const [controller, proxies] = await Promise.all([readController(r.dashboardUrl), Promise.all(r.proxies.map((p) => readProxy(p.name, p.admin)))]);
        await postTraffic(r.controllerUrl, r.identity, g);
        const viewState = { traffic: summarize(g.window.last(5)), proxies, controller, lastError: g.lastError };
        const events = eventsOf(controller, proxies, { lastCompileSeen, lastConverged });
        lastCompileSeen = events.lastCompileSeen;
        lastConverged = events.lastConverged;
        if (tty) {
          for (const e of events.lines) tty.print(e);
          tty.draw(renderBlock(viewState, color));
        } else {
          for (const e of events.lines) opts.out.write(e + '\n');
          if (++tick % 5 === 0) opts.out.write(renderLine(viewState) + '\n');
        }
      })().finally(() => {
        busy = false;
      });
    }, 1000);

    const timer = opts.durationMs !== null ? setTimeout(() => stopRequested('duration'), opts.durationMs) : undefined;
    const why = await stopped;
    clearTimeout(timer);
    if (why !== 'duration' && !why.startsWith('SIG')) opts.err.write(`weft up: ${why}\n`);
    return exitCode;
  } finally {
    clearInterval(ticker);
    // The handlers stay until every child is stopped: a second signal (Ctrl-C pressed twice, or
    // `npm start` forwarding the terminal's SIGINT that weft up also got) must not kill weft up
    // half-way and leave the controller and proxies running. stopAll is bounded (SIGKILL after
    // its grace period), so ignoring further signals meanwhile cannot hang the exit.
    if (began) opts.out.write('stopping ...\n');
    await gen?.stop();
    await running?.children.stopAll();
    await running?.identity.controllerClient.close().catch(() => undefined);
    await lock.release();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onSignal);
    if (began) opts.out.write(`stopped. The repository stays in ${path.relative(opts.cwd, path.join(state, 'demo')) || '.'} for next time.\n`);
  }
}

/** eventsOf turns changes since the last frame into event lines (a commit compiled or rejected, convergence). */
function eventsOf(c: ControllerView, proxies: readonly ProxyView[], seen: { lastCompileSeen: string; lastConverged: string }): { lines: string[]; lastCompileSeen: string; lastConverged: string } {
  const lines: string[] = [];
  let { lastCompileSeen, lastConverged } = seen;
  const lc = c.lastCompile;
  if (lc && lc.commit !== lastCompileSeen) {
    lastCompileSeen = lc.commit;
    lines.push(
      lc.ok
        ? `commit ${lc.commit.slice(0, 7)} "${lc.message}" compiled: ${shortDigest(c.digest)}`
        : `commit ${lc.commit.slice(0, 7)} "${lc.message}" REJECTED (${lc.errors} error${lc.errors === 1 ? '' : 's'}): ${lc.firstError ?? ''}; proxies keep ${shortDigest(c.digest)}`,
    );
  }
  const conv = convergence({ controller: c, proxies });
  if (conv.converged && c.digest !== null && c.digest !== lastConverged) {
    lastConverged = c.digest;
    lines.push(`all ${conv.total} proxies active on ${shortDigest(c.digest)}`);
  }
  return { lines, lastCompileSeen, lastConverged };
}
