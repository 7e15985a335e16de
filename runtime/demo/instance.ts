/**
 * `weft up --instance SERVICE`: one more instance of a demo Service, next to a running `weft up`,
 * in the foreground of another terminal — the walkthrough's scaling step. It starts the Service's
 * demo app and a `weft proxy` in front of it, the way an operator would add a replica: a join
 * token from the demo's CA, `--controller` on the controller's mTLS listener, a free inbound port
 * that the proxy registers (docs/discovery.md). Callers spread the Service's traffic over every
 * ready instance within a long-poll round-trip; no commit, no bundle change.
 *
 * Ctrl-C (or SIGTERM) stops it as Kubernetes stops a pod: the proxy gets SIGTERM, deregisters,
 * keeps serving for its drain delay, drains and exits; only then does the app stop. No request
 * fails on the way.
 */
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Server } from 'node:http';
import { ChildSet, type ManagedChild } from './children.js';
import { startApp, type AppSpec } from './apps.js';
import { demoIdentity } from './identity.js';
import { DemoError } from './errors.js';
import { isAlive, readLockState } from './lock.js';
import { getJson, waitFor } from './mesh-watch.js';
import { packageRoot, weftEntry } from './package-root.js';
import { PortAllocator } from './ports.js';
import { INSTANCES, instanceByService } from './topology.js';

/** InstanceOptions are `weft up --instance`'s inputs. */
export interface InstanceOptions {
  /** Where the running `weft up` was started (its `.weft/`). */
  cwd: string;
  /** The demo Service to add an instance of (`reviews-v2`). */
  service: string;
  /** Stop by itself after this long (tests); null runs until a signal. */
  durationMs: number | null;
  /** On SIGTERM, how long the proxy keeps serving after deregistering (`--drain-delay`), ms. */
  drainDelayMs: number;
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
}

/**
 * claimOrdinal picks this instance's number (2, 3, ...) with an exclusive pid file per number
 * under `.weft/instances/`, so two terminals never pick the same name; a file left by a process
 * that is gone is taken over. Returns the number and a release function.
 */
async function claimOrdinal(dir: string, service: string): Promise<{ n: number; release: () => Promise<void> }> {
  await mkdir(dir, { recursive: true });
  for (let n = 2; n < 100; n++) {
    const file = path.join(dir, `${service}-${n}.pid`);
    try {
      const fh = await open(file, 'wx');
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      return { n, release: () => rm(file, { force: true }) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const pid = Number((await readFile(file, 'utf8').catch(() => '')).trim());
    if (!isAlive(pid)) {
      await rm(file, { force: true });
      n--; // try the same number again
    }
  }
  throw new DemoError(`too many ${service} instances running here`);
}

interface StatusInstances {
  discovery?: { services?: { service: string; instances: { address: string; port: number; ready: boolean }[] }[] };
}

/** runInstance runs one extra instance until a signal, `durationMs`, or `weft up` stopping; resolves to the exit code. */
export async function runInstance(opts: InstanceOptions): Promise<number> {
  const inst = instanceByService(opts.service);
  if (!inst) throw new DemoError(`--instance: "${opts.service}" is not a demo Service; one of ${INSTANCES.map((i) => i.proxyService).join(', ')}`);
  const state = path.join(opts.cwd, '.weft');
  const lock = await readLockState(path.join(state, 'up.lock'));
  if (!lock || !isAlive(lock.pid) || !lock.ready || !lock.mesh || !lock.controller) {
    throw new DemoError('no running weft up here: start `npx weft up` first, then run this in another terminal, in the same directory');
  }
  const upPid = lock.pid;
  const statusUrl = lock.controller;
  const { n, release } = await claimOrdinal(path.join(state, 'instances'), inst.proxyService);
  const name = `${inst.proxyService}#${n}`;
  const children = new ChildSet();
  let app: Server | null = null;
  let stopRequested: (why: string) => void = () => {};
  const stopped = new Promise<string>((resolve) => {
    stopRequested = resolve;
  });
  let stopping = false;
  void stopped.then(() => (stopping = true));
  const onSignal = (sig: NodeJS.Signals): void => stopRequested(sig);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let watch: NodeJS.Timeout | undefined;
  let exitCode = 0;
  try {
    const alloc = new PortAllocator();
    const ports = { app: await alloc.next(), outbound: await alloc.next(), inbound: await alloc.next(), admin: await alloc.next() };
    const spec: AppSpec = { instance: name, service: inst.service, version: inst.version, port: ports.app, outbound: `127.0.0.1:${ports.outbound}`, calls: inst.calls };
    app = await startApp(spec);
    const identity = await demoIdentity(state);
    await identity.controllerClient.close().catch(() => undefined);
    const tokenFile = await identity.tokenFile(name.replace('#', '-'), inst.proxyService);
    const logFile = path.join(state, 'logs', `${inst.proxyService}-${n}.log`);
    const inbound = `127.0.0.1:${ports.inbound}`;
    const child: ManagedChild = children.start({
      name,
      command: process.execPath,
      args: [
        weftEntry(packageRoot()), 'proxy',
        '--ca', identity.caFile,
        '--token-file', tokenFile,
        '--service', inst.proxyService,
        '--controller', lock.mesh,
        '--outbound', `127.0.0.1:${ports.outbound}`,
        '--inbound', inbound,
        '--app', `http://127.0.0.1:${ports.app}`,
        '--admin', `127.0.0.1:${ports.admin}`,
        '--labels', `version=${inst.version},instance=${n}`,
        '--drain-delay', `${opts.drainDelayMs}ms`,
        '--cache-dir', path.join(state, 'cache', `${inst.proxyService}-${n}`),
      ],
      logFile,
    });
    void child.exited.then(({ code, signal }) => stopRequested(`its proxy exited (${code ?? signal ?? 'unknown'}); see ${path.relative(opts.cwd, logFile)}`));
    opts.out.write(`starting ${name}: the ${inst.proxyService} app on 127.0.0.1:${ports.app} behind a weft proxy (inbound ${inbound}) ...\n`);
    // Registered and ready: the controller lists it (callers learn it within a round-trip).
    const registered = await waitFor(async () => {
      if (stopping || child.process.exitCode !== null || child.process.signalCode !== null) return true;
      const st = (await getJson(`${statusUrl}/v1/status`)) as StatusInstances | null;
      const row = st?.discovery?.services?.find((s) => s.service === `default/${inst.proxyService}`);
      return row?.instances.some((i) => i.address === '127.0.0.1' && i.port === ports.inbound && i.ready) ?? false;
    }, 60_000, 250);
    if (child.process.exitCode !== null || child.process.signalCode !== null) {
      throw new DemoError(`the proxy of ${name} exited during start-up; see ${path.relative(opts.cwd, logFile)}`);
    }
    if (stopping) return 0;
    if (!registered) throw new DemoError(`${name} did not register within 60s; see ${path.relative(opts.cwd, logFile)}`);
    opts.out.write(
      [
        `${name} is registered as an instance of ${inst.proxyService} (version=${inst.version}) and takes traffic.`,
        `  watch it: npx weft status --controller ${statusUrl}   and the dashboard ${statusUrl}/`,
        `  Ctrl-C stops it: the proxy deregisters, serves ${opts.drainDelayMs / 1000}s more for callers that have not heard yet, drains, exits.`,
        '',
      ].join('\n'),
    );
    // weft up gone (Ctrl-C in its terminal): the controller went with it, so stop too.
    watch = setInterval(() => {
      if (!isAlive(upPid)) stopRequested('weft up stopped');
    }, 1000);
    const timer = opts.durationMs !== null ? setTimeout(() => stopRequested('duration'), opts.durationMs) : undefined;
    const why = await stopped;
    clearTimeout(timer);
    if (!why.startsWith('SIG') && why !== 'duration') {
      opts.err.write(`weft up --instance: ${why}\n`);
      if (why !== 'weft up stopped') exitCode = 1;
    }
    return exitCode;
  } finally {
    clearInterval(watch);
    // Signal handlers stay until the proxy and app are stopped (see runDemo): a second Ctrl-C must
    // not kill this process while its proxy drains, leaving it running.
    const list = children.list();
    if (list.some((c) => c.process.exitCode === null && c.process.signalCode === null)) {
      opts.out.write(`stopping ${name}: deregistering, then draining ...\n`);
    }
    // The proxy first (it deregisters and drains while the app still answers), then the app.
    await children.stopAll(opts.drainDelayMs + 15_000);
    if (app) {
      const a = app;
      await new Promise<void>((resolve) => {
        a.close(() => resolve());
        a.closeAllConnections();
      });
    }
    await release();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    opts.out.write(`${name} stopped.\n`);
  }
}
