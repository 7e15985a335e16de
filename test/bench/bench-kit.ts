/**
 * What the HTTP benchmarks share: the closed-loop load driver and writing one section of
 * BENCHMARKS.md. Each benchmark owns its own `## Heading` section and replaces only that.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/**
 * closedLoop keeps `concurrency` keep-alive requests in flight to `addr` (Host: `host`) for
 * `seconds`; a request that fails or answers other than 200 counts as an error.
 */
export async function closedLoop(addr: string, host: string, concurrency: number, seconds: number): Promise<{ ok: number; errors: number; elapsed: number }> {
  const pool = new Pool(`http://${addr}`, { connections: concurrency, keepAliveTimeout: 10_000 });
  let ok = 0;
  let errors = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        try {
          const r = await pool.request({ path: '/api/items', method: 'GET', headers: { host } });
          await r.body.dump();
          if (r.statusCode === 200) ok++;
          else errors++;
        } catch {
          errors++;
        }
      }
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  await pool.close();
  return { ok, errors, elapsed };
}

/** writeBenchSection replaces the `## <heading>` section of BENCHMARKS.md (appends it when absent). */
export function writeBenchSection(heading: string, section: string): void {
  const file = path.join(ROOT, 'BENCHMARKS.md');
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n\n';
  const start = text.search(new RegExp(`^## ${heading}\\s*$`, 'm'));
  let out: string;
  if (start === -1) out = `${text.trimEnd()}\n\n${section}`;
  else {
    const rest = text.slice(start + 1);
    const next = rest.search(/^## /m);
    out = text.slice(0, start) + section + (next === -1 ? '' : '\n' + rest.slice(next));
  }
  writeFileSync(file, out.endsWith('\n') ? out : out + '\n');
}

/** pct is the p-th percentile (nearest rank) of `xs`; NaN when empty. */
export function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
}

/** cpuSeconds is user+system CPU time of a process so far, in seconds (Linux /proc, 100 Hz ticks). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** rssMiB is a process's resident set size in MiB (Linux /proc); NaN when unknown. */
export function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}
