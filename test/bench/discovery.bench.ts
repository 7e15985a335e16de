/**
 * Discovery benchmark: the endpoint rows of `npm run bench:propagation` (not part of `npm test`).
 *
 * Part 1: instance registered → every caller routes to it. A real `weft controller` (insecure,
 * loopback), CALLERS real `weft proxy --controller` processes of `web` following `reviews`, and
 * a real app standing for each new instance. Per round: `PUT /v1/endpoints/self` for a new
 * instance (what a starting proxy sends); t0 = the controller's 200. Then each caller's admin
 * `/config` is polled (every 5 ms) until its endpoint table lists the instance as ready, i.e.
 * the balancer picks from it; the round's time is the slowest caller's. Then the instance is
 * deregistered and the round waits until every caller dropped it.
 *
 * Part 2: controller CPU with INSTANCES instances heartbeating at the default period (5 s),
 * simulated with undici (the PUT a proxy sends), for SECONDS seconds: CPU time over wall time,
 * RSS, and the registry's size at the end.
 *
 * Both parts run twice: `--insecure`, and with identity on (`--ca-dir`; callers bootstrap with
 * join tokens; registrations carry the registering Service's client certificate).
 *
 * Bounded: every wait has a deadline; every process is killed at the end, even on failure.
 * WEFT_BENCH_ROUNDS, WEFT_BENCH_CALLERS, WEFT_BENCH_INSTANCES, WEFT_BENCH_SECONDS change sizes.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createSecureContext } from 'node:tls';
import { Pool, request, type Agent, type Dispatcher } from 'undici';
import { createCa, writeCaDir } from '../../runtime/identity/ca.js';
import { issueLeafForKey } from '../../runtime/identity/issue.js';
import { createJoinToken } from '../../runtime/identity/join-token.js';
import { generateKeyPair } from '../../runtime/identity/keys.js';
import { DEFAULT_TRUST_DOMAIN, workloadId } from '../../runtime/identity/spiffe-id.js';
import { controllerDispatcher } from '../../runtime/sources/controller-tls.js';
import { getJson, initRepo, killAll, removeTmp, sleep, startController, tmpDir, waitFor, type ControllerProc } from '../controller/helpers.js';
import { closeApps, meshRepo, startApp, startCaller, type Security } from '../discovery/mesh-kit.js';
import { writeBenchSection, cpuSeconds, pct, rssMiB } from './bench-kit.js';

const ROUNDS = Number(process.env.WEFT_BENCH_ROUNDS ?? 30);
const CALLERS = Number(process.env.WEFT_BENCH_CALLERS ?? 4);
const INSTANCES = Number(process.env.WEFT_BENCH_INSTANCES ?? 1000);
const SECONDS = Number(process.env.WEFT_BENCH_SECONDS ?? 30);
const HEARTBEAT_MS = 5000;

const load = (): string => os.loadavg().map((x) => x.toFixed(1)).join(' ');

interface Config {
  endpoints?: Record<string, { endpoints: { address: string; port: number; ready: boolean }[] }>;
}

async function routesTo(admin: string, port: number): Promise<boolean> {
  const cfg = await getJson<Config>(`http://${admin}/config`);
  return (cfg.endpoints?.['default/reviews']?.endpoints ?? []).some((e) => e.port === port && e.ready);
}

async function put(base: string, method: 'PUT' | 'DELETE', body: unknown, dispatcher?: Dispatcher): Promise<number> {
  const res = await request(`${base}/v1/endpoints/self`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    headersTimeout: 10_000,
    bodyTimeout: 10_000,
    ...(dispatcher ? { dispatcher } : {}),
  });
  await res.body.dump();
  return res.statusCode;
}

/**
 * Mesh is one controller and its callers, insecure or with identity on: `--ca-dir` on the
 * controller, callers bootstrapped with join tokens, and registrations sent with a client
 * certificate of the registering Service (the controller takes the Service from it).
 */
interface Mesh {
  ctl: ControllerProc;
  statusUrl: string;
  /** The dispatcher a registrant of `service` uses (its certificate under mTLS). */
  client(service: string): Promise<Dispatcher | undefined>;
  close(): Promise<void>;
}

async function startMesh(mode: 'insecure' | 'mtls', dir: string): Promise<{ mesh: Mesh; callers: Awaited<ReturnType<typeof startCaller>>[] }> {
  const repo = path.join(dir, 'repo');
  await initRepo(repo, meshRepo());
  if (mode === 'insecure') {
    const ctl = await startController(['--repo', repo, '--store', path.join(dir, 'store'), '--poll', '10s']);
    const callers = [];
    for (let i = 0; i < CALLERS; i++) callers.push(await startCaller(ctl, path.join(dir, `c${i}`)));
    const pool = new Pool(ctl.url, { connections: 32 });
    return { mesh: { ctl, statusUrl: ctl.url, client: () => Promise.resolve(pool), close: () => pool.close() }, callers };
  }
  const caDir = path.join(dir, 'ca');
  const ca = await createCa(DEFAULT_TRUST_DOMAIN);
  await writeCaDir(caDir, ca);
  const caFile = path.join(caDir, 'ca.pem');
  const ctl = await startController(['--repo', repo, '--store', path.join(dir, 'store'), '--poll', '10s', '--ca-dir', caDir, '--dashboard', '127.0.0.1:0']);
  const security: Security = {
    tokens: {
      caFile,
      async token(service, d, name) {
        const file = path.join(d, `${name}.token`);
        await mkdir(d, { recursive: true });
        await writeFile(file, createJoinToken(ca, workloadId(ca.trustDomain, 'default', service), { uses: 1 }).token + '\n', { mode: 0o600 });
        return file;
      },
    },
  };
  const callers = [];
  for (let i = 0; i < CALLERS; i++) callers.push(await startCaller(ctl, path.join(dir, `c${i}`), security));
  const agents = new Map<string, Promise<Agent>>();
  const client = (service: string): Promise<Agent> => {
    let a = agents.get(service);
    if (!a) {
      a = (async () => {
        const key = await generateKeyPair();
        const leaf = await issueLeafForKey(ca, key.cryptoKeys.publicKey, { id: workloadId(ca.trustDomain, 'default', service), ttlMs: 3600_000 });
        return controllerDispatcher(createSecureContext({ key: key.privateKeyPem, cert: leaf.certPem, ca: ca.certPem }), ca.trustDomain);
      })();
      agents.set(service, a);
    }
    return a;
  };
  return {
    mesh: { ctl, statusUrl: ctl.dashboardUrl ?? ctl.url, client, close: async () => void (await Promise.all([...agents.values()].map(async (a) => (await a).close()))) },
    callers,
  };
}

interface Rows {
  mode: 'insecure' | 'mtls';
  p50: number;
  p99: number;
  max: number;
  cpuPct: number;
  renewalsPerS: number;
  failed: number;
  rss: number;
  held: number;
}

async function runMode(mode: 'insecure' | 'mtls'): Promise<Rows> {
  const dir = await tmpDir(`bench-discovery-${mode}`);
  try {
    const { mesh, callers } = await startMesh(mode, dir);
    const ctl = mesh.ctl;
    try {
      // Part 1: registered → every caller routes to it.
      const reviews = await mesh.client('reviews');
      const times: number[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        const app = await startApp(`bench-${r}`);
        const reg = { service: 'reviews', namespace: 'default', instance: `bench-${r}`, address: '127.0.0.1', port: app.port, labels: {}, ready: true };
        const status = await put(ctl.url, 'PUT', reg, reviews);
        const t0 = performance.now();
        if (status !== 200) throw new Error(`registration answered ${status}`);
        const done = await Promise.all(
          callers.map(async (c) => {
            await waitFor(() => routesTo(c.admin, app.port), 10_000, `caller ${c.admin} routes to bench-${r}`);
            return performance.now() - t0;
          }),
        );
        times.push(Math.max(...done));
        await put(ctl.url, 'DELETE', { service: 'reviews', namespace: 'default', address: '127.0.0.1', port: app.port }, reviews);
        await Promise.all(callers.map((c) => waitFor(async () => !(await routesTo(c.admin, app.port)), 10_000, 'caller drops it')));
        await app.close();
      }
      const p50 = pct(times, 50);
      const p99 = pct(times, 99);
      const max = Math.max(...times);
      process.stdout.write(`[${mode}] registered → every caller routes: p50 ${p50.toFixed(0)} ms, p99 ${p99.toFixed(0)} ms, max ${max.toFixed(0)} ms (${ROUNDS} rounds, ${CALLERS} callers)\n`);

      // Part 2: controller CPU with INSTANCES instances heartbeating (50 Services; under mTLS
      // each Service's registrants share its certificate and keep-alive connections, as a
      // proxy keeps its connection to the controller).
      const regs = Array.from({ length: INSTANCES }, (_, i) => ({
        service: `svc-${i % 50}`, namespace: 'default', instance: `sim-${i}`, address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, port: 15006, labels: { version: 'v1' }, ready: true,
      }));
      const clients = await Promise.all(regs.map((r) => mesh.client(r.service)));
      for (let i = 0; i < regs.length; i++) await put(ctl.url, 'PUT', regs[i], clients[i]);
      await sleep(1000);
      const cpu0 = cpuSeconds(ctl.proc.pid!);
      const wall0 = performance.now();
      let sent = 0;
      let failed = 0;
      const deadline = wall0 + SECONDS * 1000;
      // Each instance renews once per period, spread evenly over it, as real proxies drift apart.
      const gap = HEARTBEAT_MS / INSTANCES;
      let next = 0;
      const inFlight = new Set<Promise<void>>();
      while (performance.now() < deadline) {
        const due = wall0 + next * gap;
        const wait = due - performance.now();
        if (wait > 1) await sleep(wait);
        const i = next % INSTANCES;
        next++;
        const p = put(ctl.url, 'PUT', regs[i], clients[i]).then(
          (s) => {
            sent++;
            if (s !== 200) failed++;
          },
          () => {
            failed++;
          },
        ).finally(() => inFlight.delete(p));
        inFlight.add(p);
      }
      await Promise.all(inFlight);
      const wall = (performance.now() - wall0) / 1000;
      const cpu = cpuSeconds(ctl.proc.pid!) - cpu0;
      const rss = rssMiB(ctl.proc.pid!);
      const st = await getJson<{ discovery: { services: { instances: unknown[] }[] } }>(`${mesh.statusUrl}/v1/status`);
      const held = st.discovery.services.reduce((n, x) => n + x.instances.length, 0);
      process.stdout.write(`[${mode}] ${INSTANCES} instances heartbeating every ${HEARTBEAT_MS / 1000} s: controller CPU ${((cpu / wall) * 100).toFixed(1)} % of one core (${(sent / wall).toFixed(0)} renewals/s, ${failed} failed), RSS ${rss.toFixed(0)} MiB, ${held} registered\n`);
      return { mode, p50, p99, max, cpuPct: (cpu / wall) * 100, renewalsPerS: sent / wall, failed, rss, held };
    } finally {
      await mesh.close();
      await killAll();
      await closeApps();
    }
  } finally {
    await removeTmp(dir);
  }
}

async function main(): Promise<void> {
  const loadBefore = load();
  const runs = [await runMode('insecure'), await runMode('mtls')];
  const name = (m: Rows['mode']): string => (m === 'mtls' ? 'mTLS (`--ca-dir`, client certificates)' : '`--insecure`');
  const lines = [
    '## Discovery',
    '',
    `\`npm run bench:propagation\` (test/bench/discovery.bench.ts), ${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} CPUs, load average before ${loadBefore}, after ${load()}. A real \`weft controller\` and ${CALLERS} real \`weft proxy\` callers on loopback, once with \`--insecure\` and once with identity on (controller \`--ca-dir\`, callers bootstrapped with join tokens, registrations sent with the registering Service's client certificate over keep-alive TLS connections); the machine is shared with other builds, so absolute times carry that load.`,
    '',
    '| measure | ' + runs.map((r) => name(r.mode)).join(' | ') + ' | goal |',
    '|---|' + runs.map(() => '---|').join('') + '---|',
    `| instance registered (\`PUT /v1/endpoints/self\` answered) → every caller's balancer has it, p50 | ${runs.map((r) => `${r.p50.toFixed(0)} ms`).join(' | ')} | |`,
    `| same, p99 (${ROUNDS} rounds, so the p99 is the slowest round) | ${runs.map((r) => `${r.p99.toFixed(0)} ms`).join(' | ')} | ≤ 500 ms: ${runs.every((r) => r.p99 <= 500) ? 'met' : 'NOT met'} |`,
    `| controller CPU, ${INSTANCES} instances heartbeating every 5 s (${SECONDS} s) | ${runs.map((r) => `${r.cpuPct.toFixed(1)} % of one core (${r.renewalsPerS.toFixed(0)} renewals/s, ${r.failed} failed)`).join(' | ')} | |`,
    `| controller RSS with ${INSTANCES} registrations | ${runs.map((r) => `${r.rss.toFixed(0)} MiB (${r.held} held)`).join(' | ')} | |`,
    '',
    'Callers are polled on their admin `/config` every 5 ms, so a time includes up to 5 ms of polling. A renewal that changes nothing wakes no long-poll; the heartbeat rows measure the registry (parse, validate, renew) and, under mTLS, the TLS record layer and the per-request certificate checks (handshakes are amortised: a proxy keeps its connection to the controller).',
    '',
  ];
  writeBenchSection('Discovery', lines.join('\n'));
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
