/**
 * What the HTTP benchmarks share: the closed-loop load driver and writing one section of
 * BENCHMARKS.md. Each benchmark owns its own `## Heading` section and replaces only that.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
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

/**
 * rawClosedLoop is closedLoop with a cheaper driver: `concurrency` keep-alive connections on raw
 * sockets, each sending the same bytes undici sends (`GET /api/items`, `host`, `connection:
 * keep-alive`) and the next request as soon as the previous response is complete. The response
 * parser reads only the status and Content-Length (every target here answers with one; a
 * response without it, or a closed connection, counts as an error and the connection is opened
 * again). It costs a few µs per request against undici's ~20, so a driver sharing one core with
 * the upstream does not run out of CPU before the proxy under test does (bench:proxy --pin).
 */
export async function rawClosedLoop(addr: string, host: string, concurrency: number, seconds: number): Promise<{ ok: number; errors: number; elapsed: number }> {
  const [h, p] = [addr.slice(0, addr.lastIndexOf(':')), Number(addr.slice(addr.lastIndexOf(':') + 1))];
  const request = Buffer.from(`GET /api/items HTTP/1.1\r\nhost: ${host}\r\nconnection: keep-alive\r\n\r\n`, 'latin1');
  let ok = 0;
  let errors = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  const one = (): Promise<void> =>
    new Promise<void>((resolve) => {
      let buf: Buffer | null = null;
      /** Body bytes still to come for the response being read; -1 while reading its head. */
      let need = -1;
      let status = 0;
      let sock: Socket;
      const open = (): void => {
        buf = null;
        need = -1;
        sock = connect(p, h, () => sock.write(request));
        sock.setNoDelay(true);
        sock.on('data', onData);
        sock.on('error', () => {});
        sock.on('close', () => {
          if (performance.now() >= end) return resolve();
          errors++;
          open();
        });
      };
      const next = (): boolean => {
        if (performance.now() < end) {
          sock.write(request);
          return true;
        }
        sock.removeAllListeners('close');
        sock.destroy();
        resolve();
        return false;
      };
      const onData = (d: Buffer): void => {
        let b: Buffer = buf === null ? d : Buffer.concat([buf, d]);
        buf = null;
        for (;;) {
          if (need < 0) {
            const eoh = b.indexOf('\r\n\r\n');
            if (eoh < 0) {
              buf = b;
              return;
            }
            const head = b.toString('latin1', 0, eoh).toLowerCase();
            status = Number(head.slice(9, 12));
            const at = head.indexOf('\r\ncontent-length:');
            if (at < 0) {
              errors++;
              sock.destroy(); // 'close' reopens
              return;
            }
            need = parseInt(head.slice(at + 17), 10);
            b = b.subarray(eoh + 4);
          }
          if (b.length < need) {
            need -= b.length;
            return;
          }
          b = b.subarray(need);
          need = -1;
          if (status === 200) ok++;
          else errors++;
          if (!next()) return;
          if (b.length === 0) return;
        }
      };
      open();
    });
  await Promise.all(Array.from({ length: concurrency }, one));
  return { ok, errors, elapsed: (performance.now() - start) / 1000 };
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
