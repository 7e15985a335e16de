/**
 * Propagation benchmark (`npm run bench:propagation`; not part of `npm test`).
 *
 * Part 1: a repository of 1,000 services, a real `weft controller`, 20 real `weft proxy
 * --controller` processes, 50 commits one after another. For each commit: the time from `git
 * commit` returning to the controller's log line saying every proxy reported the new digest
 * active, split into compile (the controller's "compiled" line) and distribution (from
 * "bundle published" to "propagated"). Times come from the controller's log clock (same host).
 *
 * Part 2: the controller's CPU and memory with 1,000 idle long-polling proxies simulated with
 * undici (one connection each, `Prefer: wait=30`), against a baseline with none; then one
 * commit wakes all 1,000 and the time until every one has the new bundle is measured.
 *
 * Bounded: every wait has a deadline; every process is killed at the end, even on failure.
 * WEFT_BENCH_SERVICES, WEFT_BENCH_COMMITS, WEFT_BENCH_PROXIES, WEFT_BENCH_IDLE change the sizes
 * (a small repository separates the controller's own cost from compile and verify time).
 */
import os from 'node:os';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { Pool } from 'undici';
import {
  commit, initRepo, killAll, meshFiles, removeTmp, sleep, startController, startProxy, statusOf, tmpDir, waitCompiled,
  waitFor, type ControllerProc,
} from '../controller/helpers.js';

const SERVICES = Math.max(3, Number(process.env.WEFT_BENCH_SERVICES ?? 1000));
const COMMITS = Number(process.env.WEFT_BENCH_COMMITS ?? 50);
const PROXIES = Number(process.env.WEFT_BENCH_PROXIES ?? 20);
const IDLE = Number(process.env.WEFT_BENCH_IDLE ?? 1000);

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
}

/** cpuSeconds is user+system CPU time of a process so far (Linux /proc). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

function logTime(ctl: ControllerProc, pred: (l: Record<string, unknown>) => boolean): Record<string, unknown> | undefined {
  return ctl.logs.find(pred);
}

async function main(): Promise<void> {
  const dir = await tmpDir('bench-prop');
  const repo = path.join(dir, 'repo');
  const mesh = (i: number): Record<string, string> => meshFiles({ v1Port: 18001, v2Port: 18002, weights: i % 2 ? [0, 100] : [100, 0], marker: `c${i}`, extraServices: SERVICES - 3 });
  const webOnly = (i: number): Record<string, string> => {
    const all = mesh(i);
    return { 'services/web.yaml': all['services/web.yaml']!, 'routes/web.yaml': all['routes/web.yaml']! };
  };
  const deadline = setTimeout(() => {
    console.error('benchmark deadline (20 min) passed; stopping');
    void killAll().then(() => process.exit(2));
  }, 20 * 60_000);
  try {
    const first = await initRepo(repo, mesh(0));
    const ctl = await startController(['--repo', repo, '--store', path.join(dir, 'store'), '--max-wait', '60s']);
    const st0 = await waitCompiled(ctl, first, 120_000);
    const bundleBytes = (await (await fetch(`${ctl.url}/v1/bundle`)).arrayBuffer()).byteLength;
    console.error(`# first compile done: ${st0.current?.digest} (${bundleBytes} bytes); starting ${PROXIES} proxies`);
    const proxies = [];
    for (let i = 0; i < PROXIES; i += 2) {
      const batch = [i, i + 1].filter((k) => k < PROXIES).map((k) => startProxy(ctl.url, 'web', path.join(dir, `cache-${k}`)));
      proxies.push(...(await Promise.all(batch)));
    }
    await waitFor(async () => {
      const s = await statusOf(ctl);
      return s.proxies.filter((p) => p.state === 'active' && p.digest === st0.current?.digest).length === PROXIES;
    }, 120_000, 'all proxies active');
    const e2e: number[] = [];
    const compileMs: number[] = [];
    const distribution: number[] = [];
    const detect: number[] = [];
    const storeMs: number[] = [];
    let timeouts = 0;
    for (let i = 1; i <= COMMITS; i++) {
      const sha = await commit(repo, webOnly(i), `bench commit ${i}`);
      const tCommit = Date.now();
      try {
        const compiled = await waitFor(() => logTime(ctl, (l) => l.msg === 'compiled' && l.commit === sha), 60_000, `compile ${i}`);
        const digest = String(compiled.digest);
        const published = await waitFor(() => logTime(ctl, (l) => l.msg === 'bundle published' && l.digest === digest), 10_000, `publish ${i}`);
        const done = await waitFor(() => logTime(ctl, (l) => l.msg === 'propagated' && l.digest === digest), 60_000, `propagation ${i}`);
        e2e.push(Date.parse(String(done.time)) - tCommit);
        compileMs.push(Number(compiled.ms));
        detect.push(Date.parse(String(compiled.time)) - Number(compiled.ms) - tCommit);
        storeMs.push(Date.parse(String(published.time)) - Date.parse(String(compiled.time)));
        distribution.push(Date.parse(String(done.time)) - Date.parse(String(published.time)));
      } catch (err) {
        timeouts++;
        console.error(`# commit ${i}: ${String(err)}`);
      }
      if (i % 10 === 0) console.error(`# ${i}/${COMMITS} commits; last e2e ${e2e.at(-1)} ms`);
      await sleep(100);
    }

    // Part 2: idle long-polls. The real proxies go first, so only simulated clients remain.
    await Promise.all(proxies.map((p) => p.kill('SIGTERM')));
    await sleep(2000);
    const pid = ctl.proc.pid!;
    const window = 20;
    const c0 = cpuSeconds(pid);
    await sleep(window * 1000);
    const baseline = { cpu: (cpuSeconds(pid) - c0) / window, rss: rssMiB(pid) };

    const pool = new Pool(ctl.url, { connections: IDLE, pipelining: 1, keepAliveTimeout: 120_000, headersTimeout: 120_000, bodyTimeout: 120_000 });
    let digest = (await statusOf(ctl)).current!.digest;
    let received = 0;
    let stop = false;
    const poll = async (k: number): Promise<void> => {
      while (!stop) {
        try {
          const res = await pool.request({
            path: `/v1/bundle?service=sim&proxy=sim-${k}`,
            method: 'GET',
            headers: { 'if-none-match': `"${digest}"`, prefer: 'wait=30', 'accept-encoding': 'gzip' },
          });
          if (res.statusCode === 200) {
            received++;
            await res.body.dump({ limit: 8 * 1024 * 1024 });
          } else await res.body.dump();
        } catch {
          if (!stop) await sleep(500);
        }
      }
    };
    const loops = Array.from({ length: IDLE }, (_, k) => poll(k));
    await waitFor(async () => (await statusOf(ctl)).proxies.filter((p) => p.proxy.startsWith('sim-')).length >= IDLE, 60_000, 'all simulated proxies connected');
    await sleep(3000);
    const c1 = cpuSeconds(pid);
    await sleep(window * 1000);
    const idle = { cpu: (cpuSeconds(pid) - c1) / window, rss: rssMiB(pid) };
    const metrics = await (await fetch(`${ctl.url}/metrics`)).text();
    const waiting = Number(/weft_controller_waiting_requests (\d+)/.exec(metrics)?.[1] ?? NaN);

    // One commit wakes every held request once.
    const sha = await commit(repo, webOnly(COMMITS + 1), 'wake everyone');
    const tCommit = Date.now();
    const compiled = await waitFor(() => logTime(ctl, (l) => l.msg === 'compiled' && l.commit === sha), 60_000, 'wake compile');
    const woken = await waitFor(() => logTime(ctl, (l) => l.msg === 'bundle published' && l.digest === compiled.digest), 10_000, 'wake publish');
    const before = received;
    await waitFor(() => received - before >= IDLE, 120_000, `all ${IDLE} simulated proxies received the new bundle`);
    const wakeAll = Date.now() - Date.parse(String(woken.time));
    digest = String(compiled.digest);
    stop = true;
    await pool.destroy();
    await Promise.allSettled(loops);
    void tCommit;

    const load = os.loadavg().map((x) => x.toFixed(1)).join(' ');
    const out = [
      `Machine: ${os.cpus().length} CPUs (nproc ${os.availableParallelism()}), ${os.cpus()[0]?.model ?? '?'}, Node ${process.version}, ${os.platform()} ${os.release()}; load average at the end ${load}.`,
      `Repository: ${SERVICES} services; bundle ${(bundleBytes / 1024).toFixed(0)} KiB; ${PROXIES} proxies (real processes); ${COMMITS} commits (${timeouts} timed out).`,
      '',
      '| measure | p50 | p99 | max |',
      '|---|---|---|---|',
      `| git commit returned → every proxy reported the new digest active | ${pct(e2e, 50)} ms | ${pct(e2e, 99)} ms | ${Math.max(...e2e)} ms |`,
      `| of which: compile of the commit (controller) | ${pct(compileMs, 50)} ms | ${pct(compileMs, 99)} ms | ${Math.max(...compileMs)} ms |`,
      `| of which: commit noticed (chokidar, debounce, git rev-parse) | ${pct(detect, 50)} ms | ${pct(detect, 99)} ms | ${Math.max(...detect)} ms |`,
      `| of which: bundle stored (fsync) before serving | ${pct(storeMs, 50)} ms | ${pct(storeMs, 99)} ms | ${Math.max(...storeMs)} ms |`,
      `| of which: bundle published → all proxies active (distribution) | ${pct(distribution, 50)} ms | ${pct(distribution, 99)} ms | ${Math.max(...distribution)} ms |`,
      '',
      `Idle long-polls (${IDLE} undici connections, Prefer: wait=30, ${waiting} held at the sample), over ${window} s:`,
      '',
      '| controller | CPU (cores) | RSS |',
      '|---|---|---|',
      `| no proxies | ${baseline.cpu.toFixed(3)} | ${baseline.rss.toFixed(0)} MiB |`,
      `| ${IDLE} idle long-polling proxies | ${idle.cpu.toFixed(3)} | ${idle.rss.toFixed(0)} MiB |`,
      '',
      `One commit waking all ${IDLE}: bundle published → all ${IDLE} received the new bundle (${(bundleBytes / 1024).toFixed(0)} KiB, sent gzipped as the proxies ask) in ${wakeAll} ms.`,
    ].join('\n');
    console.log(out);
  } finally {
    clearTimeout(deadline);
    await killAll();
    await removeTmp(dir);
  }
}

main().then(
  () => process.exit(0),
  async (err: unknown) => {
    console.error(`benchmark failed: ${err instanceof Error ? err.message : String(err)}`);
    await killAll();
    process.exit(1);
  },
);
