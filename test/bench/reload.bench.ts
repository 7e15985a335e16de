/**
 * Reload benchmark (`npm run bench:reload`): one `weft proxy` process with a bundle file, 12
 * closed-loop keep-alive clients, first with no reloads, then while the bundle file is swapped
 * (atomic rename) every 100 ms. Reports requests per second in both phases, failed requests, and
 * the time from writing a bundle to /config acknowledging it (p50, p95). The reload test
 * (test/proxy/reload.test.ts) proves correctness under reload; speed is measured only here.
 *
 * Usage: node dist/test/bench/reload.bench.js [--seconds 5]
 */
import { cpus, loadavg } from 'node:os';
import path from 'node:path';
import { bundle, service, spec } from '../helpers/bundle-builder.js';
import { removeDir, spawnProxy, startEcho, tempDir, waitForDigest, writeAtomic } from '../helpers/proxy-harness.js';
import { closedLoop, writeBenchSection } from './bench-kit.js';

function generation(n: number, port: number): ReturnType<typeof bundle> {
  return bundle(
    spec([
      service('up', { endpoints: [`127.0.0.1:${port}`] }),
      service('web', {
        producer: [{ matches: [{ path: { type: 'PathPrefix', value: '/' } }], filters: [{ type: 'ResponseHeaderModifier', modifier: { set: [{ name: 'x-gen', value: String(n) }], add: [], remove: [] } }], backends: [{ service: 'up' }] }],
      }),
    ]),
  );
}

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--seconds');
  const seconds = i >= 0 ? Number(process.argv[i + 1]) : 5;
  const echo = await startEcho('up');
  const dir = tempDir('weft-bench-reload-');
  const file = path.join(dir, 'bundle.json');
  writeAtomic(file, JSON.stringify(generation(0, echo.port)));
  const proxy = await spawnProxy(['--service', 'client', '--bundle', file]);
  try {
    await closedLoop(proxy.outbound, 'web', 12, 1); // warm-up
    const steady = await closedLoop(proxy.outbound, 'web', 12, seconds);
    let swapping = true;
    const acks: number[] = [];
    const swaps = (async (): Promise<void> => {
      for (let n = 1; swapping; n++) {
        const b = generation(n, echo.port);
        const t = performance.now();
        writeAtomic(file, JSON.stringify(b));
        await waitForDigest(proxy.admin, b.digest);
        acks.push(performance.now() - t);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const reloading = await closedLoop(proxy.outbound, 'web', 12, seconds);
    swapping = false;
    await swaps;
    acks.sort((a, b) => a - b);
    const rps = (r: { ok: number; elapsed: number }): string => (r.ok / r.elapsed).toFixed(0);
    const rows = [
      '| phase | req/s | failed | swaps | ack p50 ms | ack p95 ms |',
      '|---|---:|---:|---:|---:|---:|',
      `| steady (no reloads) | ${rps(steady)} | ${steady.errors} | 0 | – | – |`,
      `| swapping every 100 ms | ${rps(reloading)} | ${reloading.errors} | ${acks.length} | ${percentile(acks, 50).toFixed(1)} | ${percentile(acks, 95).toFixed(1)} |`,
    ];
    const section = [
      '## Reload under load',
      '',
      `\`npm run bench:reload\`: one proxy, 12 keep-alive clients, ${seconds} s per phase; the bundle file is replaced by atomic rename every 100 ms in the second phase. ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), node ${process.version}, load average ${loadavg()[0]!.toFixed(1)} when it ended; the machine is shared, so compare the two phases of one run rather than runs.`,
      '',
      ...rows,
      '',
    ].join('\n');
    console.log(section);
    writeBenchSection('Reload under load', section);
  } finally {
    await proxy.stop();
    await echo.close();
    await removeDir(dir);
  }
}

await main();
