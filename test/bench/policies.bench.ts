/**
 * Policy cost benchmark: the same upstream through a Weft inbound listener with no policy and
 * with an AuthorizationPolicy of 10 rules plus a RateLimitPolicy (test/policy/bench-scenarios.ts,
 * also listed in bench:proxy), in one run, rounds interleaved so drifting machine load hits both
 * alike. Two figures per target:
 *  - throughput (closed loop, `--concurrency` in flight), req/s;
 *  - CPU per request of the proxy process (user + system from /proc, divided by requests served):
 *    on a shared machine this is the steadier measure of what the policies cost.
 * Goal: policies cost ≤ 10%. Writes the "## Policies" section of BENCHMARKS.md (others untouched).
 *
 * Usage: node dist/test/bench/policies.bench.js [--seconds 3] [--rounds 3] [--concurrency 32] [--no-write]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { cpus } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { closedLoop, writeBenchSection } from './bench-kit.js';
import { tempDir, writeBundle } from '../helpers/proxy-harness.js';
import { policyScenarios, type BenchTools } from '../policy/bench-scenarios.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const WEFT = path.resolve(HERE, '..', '..', 'bin', 'weft.js');
const BODY = Buffer.alloc(1024, 120);

const children: ChildProcess[] = [];
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});

const tools: BenchTools = {
  weft: WEFT,
  freePort: () =>
    new Promise((resolve) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    }),
  startChild: (args, readyText) =>
    new Promise((resolve, reject) => {
      const c = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(c);
      let out = '';
      const onData = (d: Buffer): void => {
        out += d.toString();
        if (out.includes(readyText)) resolve(c);
      };
      c.stdout!.on('data', onData);
      c.stderr!.on('data', onData);
      c.on('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
    }),
  stopChild: async (c) => {
    if (c.exitCode !== null) return;
    c.removeAllListeners('exit');
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill('SIGTERM');
      setTimeout(() => c.kill('SIGKILL'), 3_000).unref();
    });
  },
  tempDir,
  writeBundle,
};

/** cpuSeconds reads a process's user + system CPU time from /proc (Linux); NaN elsewhere. */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[11], fields[12] are utime, stime (fields 14 and 15 of proc(5)), in clock ticks.
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}


async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { seconds: { type: 'string', default: '3' }, rounds: { type: 'string', default: '3' }, concurrency: { type: 'string', default: '32' }, 'no-write': { type: 'boolean', default: false } },
  });
  const seconds = Number(values.seconds);
  const rounds = Number(values.rounds);
  const concurrency = Number(values.concurrency);

  const upstream = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': BODY.length });
    res.end(BODY);
  });
  upstream.keepAliveTimeout = 65_000;
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const upAddr = `127.0.0.1:${(upstream.address() as { port: number }).port}`;

  const targets: { name: string; addr: string; pid: number; stop(): Promise<void>; ok: number; errors: number; elapsed: number; cpu: number }[] = [];
  for (const s of policyScenarios(tools)) {
    const t = await s.start(upAddr);
    if (typeof t === 'string') throw new Error(t);
    targets.push({ name: s.name, addr: t.addr, pid: t.pid ?? 0, stop: t.stop, ok: 0, errors: 0, elapsed: 0, cpu: 0 });
  }
  for (const t of targets) await closedLoop(t.addr, 'up', concurrency, 0.5); // warm-up (JIT, connections)
  for (let r = 0; r < rounds; r++) {
    for (const t of r % 2 === 0 ? targets : [...targets].reverse()) {
      const c0 = cpuSeconds(t.pid);
      const res = await closedLoop(t.addr, 'up', concurrency, seconds);
      t.cpu += cpuSeconds(t.pid) - c0;
      t.ok += res.ok;
      t.errors += res.errors;
      t.elapsed += res.elapsed;
      process.stderr.write(`round ${r + 1} ${t.name}: ${(res.ok / res.elapsed).toFixed(0)} req/s\n`);
    }
  }
  for (const t of targets) await t.stop();
  upstream.close();

  const [base, pol] = targets as [(typeof targets)[0], (typeof targets)[0]];
  const rps = (t: typeof base): number => t.ok / t.elapsed;
  const cpuUs = (t: typeof base): number => (t.cpu / t.ok) * 1e6;
  const tpCost = 1 - rps(pol) / rps(base);
  const cpuCost = cpuUs(pol) / cpuUs(base) - 1;
  let load = 'n/a';
  try {
    load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    // not Linux
  }
  const row = (t: typeof base): string => `| ${t.name} | ${rps(t).toFixed(0)} | ${cpuUs(t).toFixed(1)} | ${t.errors} |`;
  const section = [
    '## Policies',
    '',
    `\`node dist/test/bench/policies.bench.js\` (test/bench/policies.bench.ts; the same two targets are also rows of \`npm run bench:proxy\`), ${new Date().toISOString().slice(0, 16)}Z. Machine: ${cpus().length} CPUs, ${cpus()[0]?.model ?? 'unknown'}, Node ${process.version}; load average at the end ${load} (shared machine: absolute numbers are noisy, the ratio from one interleaved run is the point).`,
    '',
    `Weft inbound listener → upstream (1 KiB, keep-alive), closed loop with ${concurrency} in flight, ${rounds} interleaved rounds of ${seconds} s per target. \`+policies\`: an AuthorizationPolicy of 10 rules (nine \`from\` rules that do not match, then the one that admits; every request walks all ten) and a RateLimitPolicy keyed by client address, set far above the load (every request refills and takes a token), plus path normalisation, which always runs inbound.`,
    '',
    '| target | req/s | proxy CPU µs / request | errors |',
    '|---|---|---|---|',
    row(base),
    row(pol),
    '',
    `Cost of the policies: ${(tpCost * 100).toFixed(1)}% of throughput, ${(cpuCost * 100).toFixed(1)}% more proxy CPU per request (goal ≤ 10%).`,
    '',
  ].join('\n');
  process.stdout.write(section + '\n');
  if (!values['no-write']) writeBenchSection('Policies', section);
}


main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(2);
});
