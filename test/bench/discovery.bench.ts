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
 * Bounded: every wait has a deadline; every process is killed at the end, even on failure.
 * WEFT_BENCH_ROUNDS, WEFT_BENCH_CALLERS, WEFT_BENCH_INSTANCES, WEFT_BENCH_SECONDS change sizes.
 */
import os from 'node:os';
import path from 'node:path';
import { Pool, request } from 'undici';
import { getJson, initRepo, killAll, removeTmp, sleep, startController, tmpDir, waitFor } from '../controller/helpers.js';
import { closeApps, meshRepo, startApp, startCaller } from '../discovery/mesh-kit.js';
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

async function put(base: string, method: 'PUT' | 'DELETE', body: unknown, dispatcher?: Pool): Promise<number> {
  const res = await request(`${base}/v1/endpoints/self`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    ...(dispatcher ? { dispatcher } : {}),
  });
  await res.body.dump();
  return res.statusCode;
}

async function main(): Promise<void> {
  const dir = await tmpDir('bench-discovery');
  const lines: string[] = [];
  try {
    const repo = path.join(dir, 'repo');
    await initRepo(repo, meshRepo());
    const ctl = await startController(['--repo', repo, '--store', path.join(dir, 'store'), '--poll', '10s']);
    const callers = [];
    for (let i = 0; i < CALLERS; i++) callers.push(await startCaller(ctl, path.join(dir, `c${i}`)));
    const loadBefore = load();

    // Part 1: registered → every caller routes to it.
    const times: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const app = await startApp(`bench-${r}`);
      const reg = { service: 'reviews', namespace: 'default', instance: `bench-${r}`, address: '127.0.0.1', port: app.port, labels: {}, ready: true };
      const status = await put(ctl.url, 'PUT', reg);
      const t0 = performance.now();
      if (status !== 200) throw new Error(`registration answered ${status}`);
      const done = await Promise.all(
        callers.map(async (c) => {
          await waitFor(() => routesTo(c.admin, app.port), 10_000, `caller ${c.admin} routes to bench-${r}`);
          return performance.now() - t0;
        }),
      );
      times.push(Math.max(...done));
      await put(ctl.url, 'DELETE', { service: 'reviews', namespace: 'default', address: '127.0.0.1', port: app.port });
      await Promise.all(callers.map((c) => waitFor(async () => !(await routesTo(c.admin, app.port)), 10_000, 'caller drops it')));
      await app.close();
    }
    const p50 = pct(times, 50);
    const p99 = pct(times, 99);
    process.stdout.write(`registered → every caller routes: p50 ${p50.toFixed(0)} ms, p99 ${p99.toFixed(0)} ms, max ${Math.max(...times).toFixed(0)} ms (${ROUNDS} rounds, ${CALLERS} callers)\n`);

    // Part 2: controller CPU with INSTANCES instances heartbeating.
    const pool = new Pool(ctl.url, { connections: 32 });
    const regs = Array.from({ length: INSTANCES }, (_, i) => ({
      service: `svc-${i % 50}`, namespace: 'default', instance: `sim-${i}`, address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, port: 15006, labels: { version: 'v1' }, ready: true,
    }));
    for (const r of regs) await put(ctl.url, 'PUT', r, pool);
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
      const r = regs[next % INSTANCES]!;
      next++;
      const p = put(ctl.url, 'PUT', r, pool).then(
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
    const st = await getJson<{ discovery: { services: { instances: unknown[] }[] } }>(`${ctl.url}/v1/status`);
    const held = st.discovery.services.reduce((n, s) => n + s.instances.length, 0);
    await pool.close();
    process.stdout.write(`${INSTANCES} instances heartbeating every ${HEARTBEAT_MS / 1000} s: controller CPU ${((cpu / wall) * 100).toFixed(1)} % of one core (${(sent / wall).toFixed(0)} renewals/s, ${failed} failed), RSS ${rss.toFixed(0)} MiB, ${held} registered\n`);

    lines.push(
      '## Discovery',
      '',
      `\`npm run bench:propagation\` (test/bench/discovery.bench.ts), ${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} CPUs, load average before ${loadBefore}, after ${load()}. A real \`weft controller\` and ${CALLERS} real \`weft proxy\` callers on loopback; the machine is shared with other builds, so absolute times carry that load.`,
      '',
      '| measure | result | goal |',
      '|---|---|---|',
      `| instance registered (\`PUT /v1/endpoints/self\` answered) → every caller's balancer has it, p50 | ${p50.toFixed(0)} ms | |`,
      `| same, p99 (${ROUNDS} rounds; max ${Math.max(...times).toFixed(0)} ms) | ${p99.toFixed(0)} ms | ≤ 500 ms |`,
      `| controller CPU, ${INSTANCES} instances heartbeating every 5 s (${(sent / wall).toFixed(0)} renewals/s, ${SECONDS} s) | ${((cpu / wall) * 100).toFixed(1)} % of one core | |`,
      `| controller RSS with ${held} registrations | ${rss.toFixed(0)} MiB | |`,
      '',
      'Callers are polled on their admin `/config` every 5 ms, so a time includes up to 5 ms of polling. A renewal that changes nothing wakes no long-poll; the heartbeat rows measure only the registry (parse, validate, renew).',
      '',
    );
    writeBenchSection('Discovery', lines.join('\n'));
  } finally {
    await killAll();
    await closeApps();
    await removeTmp(dir);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
