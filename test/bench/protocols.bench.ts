/**
 * Protocol rows of the proxy benchmark (`npm run bench:protocols`; `bench:proxy` runs it too):
 *
 *  - gRPC unary (@grpc/grpc-js client and server, JSON messages) directly and through one Weft
 *    proxy (outbound, HTTP/2 both sides): calls/s, p50/p99 of call latency in a closed loop, and
 *    the proxy's CPU per call;
 *  - proxy-to-proxy: an HTTP/1.1 client → caller proxy → callee proxy → HTTP/1.1 upstream, with
 *    the hop between the proxies over HTTP/2 (meshed endpoint: one multiplexed connection) and
 *    over HTTP/1.1 (same endpoint, not meshed): req/s, latency and CPU of both proxies per request;
 *  - the parts under that hop (h2-parts.ts): CPU per request of the bare clients and servers,
 *    HTTP/1.1 against node:http2 (core and compatibility APIs), no proxy.
 *
 * Usage: node dist/test/bench/protocols.bench.js [--seconds 3] [--concurrency 16] [--no-write]
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { cpus } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type * as grpc from '@grpc/grpc-js';
import { Pool } from 'undici';
import { bundle, service, spec } from '../helpers/bundle-builder.js';
import { echoClient, startGrpcEcho, unary } from '../helpers/grpc-echo.js';
import { spawnProxy, tempDir, writeBundle, type ProxyProcess } from '../helpers/proxy-harness.js';
import { writeBenchSection } from './bench-kit.js';
import { h2Parts, partsTable } from './h2-parts.js';

/** cpuMs is a process's user+system CPU time so far (Linux /proc), or null. */
function cpuMs(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return ((Number(rest[11]) + Number(rest[12])) * 1000) / 100;
  } catch {
    return null;
  }
}

interface Row {
  name: string;
  rps: number;
  p50: number;
  p99: number;
  cpuUs: number | null;
  errors: number;
}

/** loop keeps `concurrency` calls in flight for `seconds` and measures each call's latency. */
async function loop(name: string, call: () => Promise<boolean>, pids: (number | undefined)[], concurrency: number, seconds: number): Promise<Row> {
  const warmEnd = Date.now() + 500;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (Date.now() < warmEnd) await call();
  }));
  const lat: number[] = [];
  let errors = 0;
  const cpu0 = pids.map(cpuMs);
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < end) {
      const t = performance.now();
      if (await call()) lat.push(performance.now() - t);
      else errors++;
    }
  }));
  const elapsed = (performance.now() - start) / 1000;
  const cpu1 = pids.map(cpuMs);
  lat.sort((a, b) => a - b);
  const pct = (p: number): number => lat[Math.min(lat.length - 1, Math.floor((lat.length * p) / 100))] ?? NaN;
  let cpuUs: number | null = null;
  if (pids.length > 0 && cpu0.every((x) => x !== null) && cpu1.every((x) => x !== null)) {
    const used = cpu1.reduce((s: number, x, i) => s + (x! - cpu0[i]!), 0);
    cpuUs = lat.length > 0 ? (used * 1000) / lat.length : null;
  }
  const row = { name, rps: lat.length / elapsed, p50: pct(50), p99: pct(99), cpuUs, errors };
  process.stderr.write(`${name}: ${row.rps.toFixed(0)}/s, p50 ${row.p50.toFixed(3)} ms, p99 ${row.p99.toFixed(3)} ms, proxy CPU ${cpuUs?.toFixed(0) ?? '-'} µs/req, errors ${errors}\n`);
  return row;
}

/** protocolSection runs every protocol scenario and returns the BENCHMARKS.md section. */
export async function protocolSection(seconds: number, concurrency: number): Promise<string> {
  const rows: Row[] = [];
  const dir = tempDir('weft-bench-proto-');
  // gRPC unary: direct, then through one proxy.
  const app = await startGrpcEcho('bench');
  const procs: ProxyProcess[] = [];
  try {
    const direct = echoClient(`127.0.0.1:${app.port}`, 'echo');
    const call = (c: grpc.Client) => async () => (await unary(c, 'Unary', { text: 'x'.repeat(64) })).error === null;
    rows.push(await loop('gRPC unary, direct', call(direct), [], concurrency, seconds));
    direct.close();
    writeBundle(path.join(dir, 'grpc.json'), bundle(spec([service('client'), { ...service('echo', { ports: [9090], endpoints: [`127.0.0.1:${app.port}`] }), ports: [{ name: 'grpc', port: 9090, appProtocol: 'kubernetes.io/h2c' }] }])));
    const p = await spawnProxy(['--service', 'client', '--bundle', path.join(dir, 'grpc.json')]);
    procs.push(p);
    const via = echoClient(p.outbound, 'echo');
    rows.push(await loop('gRPC unary, through one Weft proxy', call(via), [p.child.pid], concurrency, seconds));
    via.close();
  } finally {
    for (const p of procs.splice(0)) await p.stop();
    await app.close();
  }
  // Proxy to proxy: HTTP/2 (meshed) vs HTTP/1.1 between the two proxies.
  const body = Buffer.alloc(1024, 120);
  const up: Server = createServer((_req, res) => res.end(body));
  await new Promise<void>((resolve) => up.listen(0, '127.0.0.1', () => resolve()));
  const upPort = (up.address() as { port: number }).port;
  try {
    writeBundle(path.join(dir, 'callee.json'), bundle(spec([service('api')])));
    for (const meshed of [true, false]) {
      const callee = await spawnProxy(['--service', 'api', '--bundle', path.join(dir, 'callee.json'), '--inbound', '127.0.0.1:0', '--app', `http://127.0.0.1:${upPort}`]);
      procs.push(callee);
      const [host, port] = [callee.inbound!.slice(0, callee.inbound!.lastIndexOf(':')), Number(callee.inbound!.slice(callee.inbound!.lastIndexOf(':') + 1))];
      const file = path.join(dir, `p2p-${meshed}.json`);
      writeBundle(file, bundle(spec([service('client'), service('api', { endpoints: [{ address: host, port, labels: {}, ...(meshed ? { meshed: true as const } : {}) }] })])));
      const caller = await spawnProxy(['--service', 'client', '--bundle', file]);
      procs.push(caller);
      const pool = new Pool(`http://${caller.outbound}`, { connections: concurrency });
      const call = async (): Promise<boolean> => {
        try {
          const r = await pool.request({ path: '/x', method: 'GET', headers: { host: 'api' } });
          await r.body.dump();
          return r.statusCode === 200;
        } catch {
          return false;
        }
      };
      rows.push(await loop(`proxy → proxy over ${meshed ? 'HTTP/2 (meshed, one connection)' : 'HTTP/1.1 (pool)'}`, call, [caller.child.pid, callee.child.pid], concurrency, seconds));
      await pool.close();
      for (const p of procs.splice(0)) await p.stop();
    }
  } finally {
    for (const p of procs.splice(0)) await p.stop();
    await new Promise<void>((resolve) => up.close(() => resolve()));
  }
  const parts = await h2Parts(Math.max(3, seconds * 2));
  let load = 'n/a';
  try {
    load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    // not Linux
  }
  const f = (x: number | null, d: number): string => (x === null || Number.isNaN(x) ? '–' : x.toFixed(d));
  return [
    '## Proxy protocols',
    '',
    `\`npm run bench:protocols\` (test/bench/protocols.bench.ts), ${new Date().toISOString().slice(0, 16)}Z. Machine: ${cpus().length} CPUs, ${cpus()[0]?.model ?? 'unknown'}, Node ${process.version}; load average at the end ${load}. Closed loop, ${concurrency} calls in flight for ${seconds} s after a 0.5 s warm-up; latency is per call in that loop (not open-loop). Proxy CPU µs/req is user+system time of the proxy processes (both, for proxy → proxy) per completed call: the figure that stays comparable on a shared machine.`,
    '',
    '| scenario | calls/s | p50 ms | p99 ms | proxy CPU µs/req | errors |',
    '|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.name} | ${f(r.rps, 0)} | ${f(r.p50, 3)} | ${f(r.p99, 3)} | ${f(r.cpuUs, 0)} | ${r.errors} |`),
    '',
    `The parts under the proxy-to-proxy hop, without any proxy (test/bench/h2-parts.ts): a client and a server per protocol, 1 KiB responses, 32 requests in flight, the three pairs in alternating 250 ms slices for ${Math.max(3, seconds * 2)} s; client CPU is the bench process's, server CPU a child's.`,
    '',
    ...partsTable(parts),
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { seconds: { type: 'string', default: '3' }, concurrency: { type: 'string', default: '16' }, 'no-write': { type: 'boolean', default: false } } });
  const section = await protocolSection(Number(values.seconds), Number(values.concurrency));
  process.stdout.write(section + '\n');
  if (!values['no-write']) writeBenchSection('Proxy protocols', section);
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  main().catch((err: unknown) => {
    process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(2);
  });
}
