/**
 * The mTLS scenarios of `npm run bench:proxy`: the same two-proxy chain (mtls-chain.ts) with the
 * proxy-to-proxy hop in plaintext (`weft-chain`) and in mTLS (`weft-chain+mtls`). CPU per request
 * is measured over both proxies, so the difference is what mTLS costs a request on keep-alive
 * connections (goal: ≤ 25 % more). Full handshakes are counted by the proxies themselves
 * (weft_tls_handshakes_total), per 10,000 requests: warm pools make them rare.
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';

/** ChainTools are the bench's own helpers. */
export interface ChainTools {
  freePort(): Promise<number>;
  startChild(args: string[], readyText: string): Promise<ChildProcess>;
  stopChild(c: ChildProcess): Promise<void>;
  tempDir(prefix: string): string;
}

/** Handshakes seen by the mTLS chain: outbound handshakes of web and requests it answered. */
export const chainCounts: { handshakes: number; requests: number } = { handshakes: 0, requests: 0 };

const CHAIN = path.join(path.dirname(fileURLToPath(import.meta.url)), 'mtls-chain.js');

function metric(text: string, name: string, has: string[]): number {
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(name) && has.every((h) => line.includes(h))) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

/**
 * mtlsScenarios: `weft-chain-h1` (the hop over HTTP/1.1: endpoint not meshed, the baseline),
 * `weft-chain` (meshed, HTTP/2 with prior knowledge, plaintext) and `weft-chain+mtls` (meshed,
 * HTTP/2 over mTLS).
 */
export function mtlsScenarios(t: ChainTools): { name: string; start(upstream: string): Promise<{ addr: string; host: string; pid: number | null; stop(): Promise<void> }> }[] {
  const chain = (name: string, mode: 'mtls' | 'plaintext' | 'http1') => ({
    name,
    start: async (upstream: string) => {
      const port = await t.freePort();
      const info = path.join(t.tempDir('weft-bench-chain-'), 'info.json');
      const c = await t.startChild([CHAIN, mode, String(port), upstream, info], 'ready');
      const { webAdmin } = JSON.parse(readFileSync(info, 'utf8')) as { webAdmin: string };
      return {
        addr: `127.0.0.1:${port}`,
        host: 'up',
        pid: c.pid ?? null,
        stop: async () => {
          if (mode === 'mtls') {
            const m = await (await request(`http://${webAdmin}/metrics`)).body.text();
            chainCounts.handshakes = metric(m, 'weft_tls_handshakes_total', ['direction="outbound"']);
            chainCounts.requests = metric(m, 'weft_requests_total', ['direction="outbound"']);
          }
          await t.stopChild(c);
        },
      };
    },
  });
  return [chain('weft-chain-h1', 'http1'), chain('weft-chain', 'plaintext'), chain('weft-chain+mtls', 'mtls')];
}

/** ChainResult is what the bench measured for one chain scenario. */
interface ChainResult {
  name: string;
  rps?: number;
  cpuUsPerReq?: number | null;
  p50?: number;
  p99?: number;
  errors?: number;
}

/**
 * mtlsSection is the `## Proxy mTLS` section of BENCHMARKS.md (null when the chain scenarios did
 * not run): both rows, the CPU cost of mTLS and the handshakes per 10,000 requests.
 */
export function mtlsSection(results: readonly ChainResult[], when: string): string | null {
  const h1 = results.find((r) => r.name === 'weft-chain-h1');
  const p = results.find((r) => r.name === 'weft-chain');
  const m = results.find((r) => r.name === 'weft-chain+mtls');
  if (!p?.rps || !m?.rps) return null;
  const row = (r: ChainResult): string => `| ${r.name} | ${r.rps?.toFixed(0)} | ${r.cpuUsPerReq == null ? '–' : r.cpuUsPerReq.toFixed(0)} | ${r.p50?.toFixed(3)} | ${r.p99?.toFixed(3)} | ${r.errors ?? 0} |`;
  return [
    '## Proxy mTLS',
    '',
    `\`npm run bench:proxy\` (test/bench/mtls-scenarios.ts, mtls-chain.ts), ${when}. Same load and columns as the Proxy table; the target is a chain of two proxies (load → web's outbound → up's inbound → upstream) whose hop is HTTP/1.1 (\`weft-chain-h1\`: both --insecure, endpoint not meshed, an undici pool), HTTP/2 in plaintext (\`weft-chain\`: both --insecure, \`meshed: true\` endpoint, h2c) or HTTP/2 over mTLS (\`weft-chain+mtls\`: file certificates, \`meshed: true\`); CPU is both proxies together.`,
    '',
    '| target | req/s | CPU µs/req (both proxies) | p50 ms | p99 ms | errors |',
    '|---|---|---|---|---|---|',
    ...(h1?.rps ? [row(h1)] : []),
    row(p),
    row(m),
    '',
    mtlsSummary(results),
    '',
  ].join('\n');
}

function mtlsSummary(results: readonly ChainResult[]): string {
  const plain = results.find((r) => r.name === 'weft-chain')?.cpuUsPerReq;
  const mtls = results.find((r) => r.name === 'weft-chain+mtls')?.cpuUsPerReq;
  const pct = plain && mtls ? ((mtls - plain) / plain) * 100 : NaN;
  const cost = plain && mtls ? `${mtls.toFixed(0)} vs ${plain.toFixed(0)} µs/req over both proxies, ${Math.abs(pct).toFixed(0)} % ${pct >= 0 ? 'more' : 'less (within noise)'}` : 'n/a';
  const hs = chainCounts.requests > 0 ? ((chainCounts.handshakes / chainCounts.requests) * 10_000).toFixed(1) : 'n/a';
  const h1 = results.find((r) => r.name === 'weft-chain-h1')?.cpuUsPerReq;
  const hop = h1 && plain && mtls ? `The HTTP/2 hop against the HTTP/1.1 hop, CPU per request over both proxies in the same run: h2c ${plain.toFixed(0)} vs ${h1.toFixed(0)} µs (${(plain / h1).toFixed(2)}×), mTLS ${mtls.toFixed(0)} vs ${h1.toFixed(0)} µs (${(mtls / h1).toFixed(2)}×). ` : '';
  return `${hop}mTLS between proxies (weft-chain+mtls vs weft-chain: load → web outbound → up inbound → upstream, keep-alive pools): CPU ${cost} (goal ≤ 25 %); full TLS handshakes per 10,000 requests: ${hs} (${chainCounts.handshakes} handshakes for ${chainCounts.requests.toLocaleString('en')} requests, warm-up and latency runs included: each handshake is a new pooled connection, opened when concurrency grows or after the pool's 4 s idle timeout between phases; steady traffic reuses them).`;
}
