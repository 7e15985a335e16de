/**
 * Propagation benchmark (`npm run bench:propagation`; not part of `npm test`).
 *
 * Part 1 (issue 17): a git repository of 10,000 Services in 20 namespaces, one file each (the
 * Service and an HTTPRoute splitting its traffic between itself and the next Service), a real
 * `weft controller` watching it, and real `weft proxy --controller` processes of two Services:
 * `front`, whose egress is 20 Services (svc-0 .. svc-19), and `back`, whose egress is 20 others.
 * Each commit changes one file: the route of one of front's 20 Services. Measured per commit:
 * `git commit` returning → every proxy reported its slice active (the controller's
 * `propagated` line, which waits for each proxy's own slice), compile included, split into
 * compile and distribution; then that `back`'s proxies never reloaded and kept their digest.
 * Also: front's slice size, a front proxy's RSS, what the incremental compile re-parsed.
 *
 * Part 2: the controller's CPU and memory with idle long-polling clients of `front` simulated
 * with undici (one connection each, `Prefer: wait=30`), then one commit wakes all of them.
 *
 * Bounded: every wait has a deadline; every process is killed at the end, even on failure.
 * WEFT_BENCH_SERVICES, WEFT_BENCH_COMMITS, WEFT_BENCH_PROXIES (per Service), WEFT_BENCH_IDLE
 * change the sizes.
 */
import os from 'node:os';
import path from 'node:path';
import { mkdir, writeFile } from 'node:fs/promises';
import { Pool, request } from 'undici';
import {
  commit, git, killAll, removeTmp, sleep, startController, startProxy, statusOf, tmpDir, waitCompiled, waitFor, type ControllerProc, type ProxyProc,
} from '../controller/helpers.js';
import { cpuSeconds, pct, rssMiB } from './bench-kit.js';

const SERVICES = Math.max(60, Number(process.env.WEFT_BENCH_SERVICES ?? 10_000));
const COMMITS = Number(process.env.WEFT_BENCH_COMMITS ?? 30);
const PROXIES = Number(process.env.WEFT_BENCH_PROXIES ?? 3);
const IDLE = Number(process.env.WEFT_BENCH_IDLE ?? 1000);
const EGRESS = 20;

const load = (): string => os.loadavg().map((x) => x.toFixed(1)).join(' ');
const ns = (i: number): string => `team-${i % 20}`;

/** serviceFile is Service svc-i and its route: `weight`% to itself, the rest to svc-(i+1). */
function serviceFile(i: number, weight: number): string {
  const next = (i + 1) % SERVICES;
  return `apiVersion: weft.dev/v1alpha1
kind: Service
metadata: { name: svc-${i}, namespace: ${ns(i)} }
spec:
  ports: [{ name: http, port: 80 }]
  endpoints: [{ address: 10.${(i >> 8) & 255}.${i & 255}.1, port: 8080 }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: svc-${i}, namespace: ${ns(i)} }
spec:
  parentRefs: [{ kind: Service, name: svc-${i} }]
  rules:
    - matches: [{ path: { type: PathPrefix, value: /api } }]
      backendRefs:
        - { name: svc-${i}, weight: ${weight} }
        - { name: svc-${next}, namespace: ${ns(next)}, weight: ${100 - weight} }
      timeouts: { request: 5s }
`;
}

const caller = (name: string, first: number): string => `apiVersion: weft.dev/v1alpha1
kind: Service
metadata: { name: ${name} }
spec:
  ports: [{ name: http, port: 80 }]
  endpoints: [{ address: 127.0.0.1, port: 18000 }]
  egress: [${Array.from({ length: EGRESS }, (_, k) => `"${ns(first + k)}/svc-${first + k}"`).join(', ')}]
`;

async function writeRepo(repo: string): Promise<void> {
  await mkdir(repo, { recursive: true });
  await git(repo, 'init', '-q', '-b', 'main');
  for (let k = 0; k < 20; k++) await mkdir(path.join(repo, ns(k)), { recursive: true });
  const files: [string, string][] = [['callers/front.yaml', caller('front', 0)], ['callers/back.yaml', caller('back', 40)]];
  for (let i = 0; i < SERVICES; i++) files.push([`${ns(i)}/svc-${i}.yaml`, serviceFile(i, 90)]);
  await mkdir(path.join(repo, 'callers'), { recursive: true });
  for (let i = 0; i < files.length; i += 256) await Promise.all(files.slice(i, i + 256).map(([f, t]) => writeFile(path.join(repo, f), t)));
}

async function proxyMetric(p: ProxyProc, name: string): Promise<number> {
  const res = await request(`http://${p.admin}/metrics`);
  const text = await res.body.text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

async function activeDigest(p: ProxyProc): Promise<string | null> {
  const res = await request(`http://${p.admin}/config`);
  const c = (await res.body.json()) as { active: { digest: string } | null };
  return c.active?.digest ?? null;
}

function logOf(ctl: ControllerProc, pred: (l: Record<string, unknown>) => boolean): Record<string, unknown> | undefined {
  return ctl.logs.find(pred);
}

async function main(): Promise<void> {
  const dir = await tmpDir('bench-prop');
  const repo = path.join(dir, 'repo');
  const deadline = setTimeout(() => {
    console.error('benchmark deadline (20 min) passed; stopping');
    void killAll().then(() => process.exit(2));
  }, 20 * 60_000);
  try {
    const tGen = Date.now();
    await writeRepo(repo);
    const first = await commit(repo, {}, 'initial policies');
    console.error(`# repository: ${SERVICES} services written and committed in ${Date.now() - tGen} ms; load ${load()}`);
    const ctl = await startController(['--repo', repo, '--store', path.join(dir, 'store'), '--max-wait', '60s']);
    const st0 = await waitCompiled(ctl, first, 300_000);
    const cold = logOf(ctl, (l) => l.msg === 'compiled' && l.commit === first);
    const wholeBytes = (await (await request(`${ctl.url}/v1/bundle`)).body.arrayBuffer()).byteLength;
    const sliceOf = async (service: string): Promise<{ bytes: number; digest: string }> => {
      const res = await request(`${ctl.url}/v1/bundle?service=${service}`);
      return { bytes: (await res.body.arrayBuffer()).byteLength, digest: String(res.headers.etag).replace(/"/g, '') };
    };
    const front0 = await sliceOf('front');
    console.error(`# cold compile ${String(cold?.ms)} ms; whole bundle ${(wholeBytes / 1e6).toFixed(1)} MB (${st0.current?.digest}); front's slice ${(front0.bytes / 1024).toFixed(0)} KiB; starting ${PROXIES} + ${PROXIES} proxies`);

    const fronts: ProxyProc[] = [];
    const backs: ProxyProc[] = [];
    for (let k = 0; k < PROXIES; k++) {
      fronts.push(await startProxy(ctl.url, 'front', path.join(dir, `cache-front-${k}`)));
      backs.push(await startProxy(ctl.url, 'back', path.join(dir, `cache-back-${k}`)));
    }
    await waitFor(async () => {
      const s = await statusOf(ctl);
      return s.proxies.filter((p) => p.state === 'active' && !p.behind).length === 2 * PROXIES;
    }, 120_000, 'all proxies active');
    const backDigest = await activeDigest(backs[0]!);
    const backReloads = await Promise.all(backs.map((p) => proxyMetric(p, 'weft_reloads_total\\{result="active"\\}')));

    const e2e: number[] = [];
    const compileMs: number[] = [];
    const compileCpu: number[] = [];
    const distribution: number[] = [];
    const publishing: number[] = [];
    const parsed: number[] = [];
    let timeouts = 0;
    for (let i = 1; i <= COMMITS; i++) {
      const target = i % EGRESS;
      // Never 90 (the initial weight) and never the weight this file had 20 commits ago: every commit changes routing.
      const weight = 1 + ((i * 7) % 89);
      const sha = await commit(repo, { [`${ns(target)}/svc-${target}.yaml`]: serviceFile(target, weight) }, `svc-${target}: weight ${weight}`);
      const tCommit = Date.now();
      try {
        const compiled = await waitFor(() => logOf(ctl, (l) => l.msg === 'compiled' && l.commit === sha), 60_000, `compile ${i}`);
        const digest = String(compiled.digest);
        const published = await waitFor(() => logOf(ctl, (l) => l.msg === 'bundle published' && l.digest === digest), 10_000, `publish ${i}`);
        const done = await waitFor(() => logOf(ctl, (l) => l.msg === 'propagated' && l.digest === digest), 60_000, `propagation ${i}`);
        e2e.push(Date.parse(String(done.time)) - tCommit);
        compileMs.push(Number(compiled.ms));
        compileCpu.push(Number(compiled.cpuMs));
        parsed.push(Number(compiled.parsed));
        distribution.push(Date.parse(String(done.time)) - Date.parse(String(published.time)));
        publishing.push(Date.parse(String(published.time)) - Date.parse(String(compiled.time)));
      } catch (err) {
        timeouts++;
        console.error(`# commit ${i}: ${String(err)}`);
      }
      if (i % 10 === 0) console.error(`# ${i}/${COMMITS} commits; last e2e ${e2e.at(-1)} ms; load ${load()}`);
      await sleep(200);
    }
    const backDigests = await Promise.all(backs.map(activeDigest));
    const backReloadsAfter = await Promise.all(backs.map((p) => proxyMetric(p, 'weft_reloads_total\\{result="active"\\}')));
    const frontRss = fronts.map((p) => rssMiB(p.proc.pid!));
    // And quiet: once each front proxy has run its idle compaction after its last activation
    // (runtime/proxy/idle-compaction.ts, about 6 s later), plus a second for the pages to go back.
    const compactedAfterLastActive = (p: ProxyProc): boolean => {
      const last = p.logs.findLastIndex((l) => l.msg === 'bundle active');
      return p.logs.findIndex((l, k) => k > last && l.msg === 'heap compacted') > last;
    };
    const quiet = await waitFor(() => fronts.every(compactedAfterLastActive), 30_000, 'front proxies compacted').then(() => true, () => false);
    await sleep(1000);
    const frontQuietRss = fronts.map((p) => (quiet ? rssMiB(p.proc.pid!) : NaN));
    const frontNow = await sliceOf('front');
    const loadPart1 = load();
    // Per commit, in order (e2e / compile CPU ms): shows whether the tail is the first commits after the cold compile.
    console.error(`# per commit e2e/cpu: ${e2e.map((v, k) => `${v}/${compileCpu[k]}`).join(' ')}`);
    // Part 1's figures first, so a failure in part 2 does not lose them.
    console.error(`# part 1: e2e p50 ${pct(e2e, 50)} / p99 ${pct(e2e, 99)} ms; compile wall p50 ${pct(compileMs, 50)} / p99 ${pct(compileMs, 99)} ms, CPU p50 ${pct(compileCpu, 50)} / p99 ${pct(compileCpu, 99)} ms; distribution p50 ${pct(distribution, 50)} / p99 ${pct(distribution, 99)} ms; front slice ${frontNow.bytes} B; front RSS ${frontRss.map((r) => r.toFixed(0)).join(',')} MiB (quiet ${frontQuietRss.map((r) => r.toFixed(0)).join(',')}); back digests unchanged ${String(backDigests.every((d) => d === backDigest))}, reloads ${backReloadsAfter.map((n, k) => n - backReloads[k]!).join(',')}; load ${loadPart1}`);

    // Part 2: idle long-polls of `front`. The real proxies go first, so only simulated clients remain.
    await Promise.all([...fronts, ...backs].map((p) => p.kill('SIGTERM')));
    await sleep(2000);
    const pid = ctl.proc.pid!;
    const window = 20;
    const c0 = cpuSeconds(pid);
    await sleep(window * 1000);
    const baseline = { cpu: (cpuSeconds(pid) - c0) / window, rss: rssMiB(pid) };
    const pool = new Pool(ctl.url, { connections: IDLE, pipelining: 1, keepAliveTimeout: 120_000, headersTimeout: 120_000, bodyTimeout: 120_000 });
    let digest = frontNow.digest;
    let received = 0;
    let stop = false;
    const poll = async (k: number): Promise<void> => {
      while (!stop) {
        try {
          const res = await pool.request({ path: `/v1/bundle?service=front&proxy=sim-${k}`, method: 'GET', headers: { 'if-none-match': `"${digest}"`, prefer: 'wait=30', 'accept-encoding': 'gzip' } });
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
    const sha = await commit(repo, { [`${ns(3)}/svc-3.yaml`]: serviceFile(3, 77) }, 'wake everyone');
    const compiled = await waitFor(() => logOf(ctl, (l) => l.msg === 'compiled' && l.commit === sha), 60_000, 'wake compile');
    // Publishing waits for the store's fsync of the whole bundle: generous on a shared disk.
    const woken = await waitFor(() => logOf(ctl, (l) => l.msg === 'bundle published' && l.digest === compiled.digest), 60_000, 'wake publish');
    const before = received;
    await waitFor(() => received - before >= IDLE, 120_000, `all ${IDLE} simulated proxies received the new slice`);
    const wakeAll = Date.now() - Date.parse(String(woken.time));
    digest = '';
    stop = true;
    await pool.destroy();
    await Promise.allSettled(loops);

    const unchanged = backDigests.every((d) => d === backDigest);
    const noReloads = backReloadsAfter.every((n, k) => n === backReloads[k]);
    const out = [
      `Machine: ${os.cpus().length} CPUs (nproc ${os.availableParallelism()}), ${os.cpus()[0]?.model ?? '?'}, Node ${process.version}; load average at the end of part 1 ${loadPart1}, at the end ${load()}.`,
      `Repository: ${SERVICES} Services (+ front and back), one file each; whole bundle ${(wholeBytes / 1e6).toFixed(1)} MB; cold compile ${String(cold?.ms)} ms. front's egress: ${EGRESS} Services; its slice ${(frontNow.bytes / 1024).toFixed(0)} KiB. ${PROXIES} front + ${PROXIES} back proxies (real processes); ${COMMITS} one-file commits to one of front's Services (${timeouts} timed out).`,
      '',
      '| measure | p50 | p99 | max |',
      '|---|---:|---:|---:|',
      `| git commit returned → every proxy reported its slice active | ${pct(e2e, 50)} ms | ${pct(e2e, 99)} ms | ${Math.max(...e2e)} ms |`,
      // The first commits after the controller's cold compile also pay for the JavaScript engine
      // optimising the incremental paths (on its background threads): shown apart, not dropped.
      `| the same, commits 4 to ${COMMITS} (after the first 3 following the cold compile) | ${pct(e2e.slice(3), 50)} ms | ${pct(e2e.slice(3), 99)} ms | ${Math.max(...e2e.slice(3))} ms |`,
      `| the same, controller CPU of commits 1 to 3 | ${compileCpu.slice(0, 3).join(', ')} ms | | |`,
      `| of which: compile of the commit (incremental), wall | ${pct(compileMs, 50)} ms | ${pct(compileMs, 99)} ms | ${Math.max(...compileMs)} ms |`,
      `| the same compile, controller CPU time | ${pct(compileCpu, 50)} ms | ${pct(compileCpu, 99)} ms | ${Math.max(...compileCpu)} ms |`,
      `| of which: compiled → published (serving mark synced, slices cut, long-polls woken) | ${pct(publishing, 50)} ms | ${pct(publishing, 99)} ms | ${Math.max(...publishing)} ms |`,
      `| of which: published → affected proxies active (distribution) | ${pct(distribution, 50)} ms | ${pct(distribution, 99)} ms | ${Math.max(...distribution)} ms |`,
      '',
      `Files parsed per commit: ${[...new Set(parsed)].join(', ')} (of ${SERVICES + 2}). front proxy RSS: ${frontRss.map((r) => r.toFixed(0)).join(', ')} MiB right after the last commit, ${frontQuietRss.map((r) => r.toFixed(0)).join(', ')} MiB quiet (after its idle compaction). back proxies: digest ${unchanged ? 'unchanged' : 'CHANGED'} over all commits, reloads ${noReloads ? '0' : backReloadsAfter.map((n, k) => n - backReloads[k]!).join(', ')}.`,
      '',
      `Idle long-polls (${IDLE} undici connections asking for front's slice, Prefer: wait=30), over ${window} s: controller CPU ${baseline.cpu.toFixed(3)} cores / RSS ${baseline.rss.toFixed(0)} MiB with none, ${idle.cpu.toFixed(3)} cores / ${idle.rss.toFixed(0)} MiB with ${IDLE}. One commit to one of front's Services: published → all ${IDLE} received the new slice in ${wakeAll} ms.`,
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
