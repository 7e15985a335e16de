/**
 * Compile benchmark (`npm run bench:compile`): synthetic repositories of 100, 1,000 and 10,000
 * Services, 5 HTTPRoutes each, compiled from disk by compile(). Each size runs in its own child
 * process so its peak RSS (getrusage maxRSS) is its own. Reports wall and CPU time per pass and in
 * total, peak memory, and the growth ratio T10k/T1k. Goals (issue 2): 1k < 1 s, 10k < 8 s, ratio ≤ 12.
 *
 * Usage: node dist/test/bench/compile.bench.js [--sizes 100,1000,10000] [--runs 3] [--json]
 *        node dist/test/bench/compile.bench.js --generate DIR [--services N]   (write one repository only)
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compile } from '../../compiler/compile.js';

const ROUTES_PER_SERVICE = 5;

/** generate writes a repository of `n` Services (one file each, with its 5 routes) and a few policies. */
function generate(dir: string, n: number): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  const put = (rel: string, text: string): void => {
    const p = path.join(dir, rel);
    mkdirSync(path.dirname(p), { recursive: true });
    writeFileSync(p, text);
    files++;
    bytes += text.length;
  };
  put('mesh.yaml', `apiVersion: weft.dev/v1alpha1
kind: MeshConfig
metadata: { name: mesh }
spec:
  defaults:
    timeouts: { request: 15s }
    retry: { attempts: 1, codes: [503], backoff: 25ms }
`);
  for (let i = 0; i < n; i++) {
    const ns = `team-${i % 20}`;
    const name = `svc-${i}`;
    const next = `svc-${(i + 1) % n}`;
    const nextNs = `team-${((i + 1) % n) % 20}`;
    const docs: string[] = [`apiVersion: weft.dev/v1alpha1
kind: Service
metadata: { name: ${name}, namespace: ${ns} }
spec:
  ports: [{ name: http, port: 8080 }]
  endpoints:
    - { address: 10.${(i >> 8) & 255}.${i & 255}.1, port: 18080, labels: { version: v1 } }
    - { address: 10.${(i >> 8) & 255}.${i & 255}.2, port: 18080, labels: { version: v2 } }
`];
    for (let r = 0; r < ROUTES_PER_SERVICE; r++) {
      docs.push(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: ${name}-r${r}, namespace: ${ns} }
spec:
  parentRefs: [{ kind: Service, name: ${name} }]
  rules:
    - matches:
        - path: { type: PathPrefix, value: /api/v${r} }
          headers: [{ name: x-user, value: beta }]
        - path: { type: Exact, value: /api/v${r}/health }
          method: GET
      backendRefs:
        - { name: ${name}, weight: 90 }
        - { name: ${next}, namespace: ${nextNs}, weight: 10 }
      timeouts: { request: 5s, backendRequest: 1s }
    - matches:
        - path: { type: RegularExpression, value: "/items/[0-9]+/r${r}" }
      filters:
        - type: RequestHeaderModifier
          requestHeaderModifier: { set: [{ name: x-route, value: r${r} }] }
      backendRefs:
        - { name: ${name} }
      retry: { attempts: 2, codes: [502, 503] }
`);
    }
    if (i % 10 === 0) {
      docs.push(`apiVersion: weft.dev/v1alpha1
kind: BackendPolicy
metadata: { name: ${name}, namespace: ${ns} }
spec:
  targetRefs: [{ kind: Service, name: ${name} }]
  loadBalancer: { type: LeastRequest }
---
apiVersion: weft.dev/v1alpha1
kind: RateLimitPolicy
metadata: { name: ${name}, namespace: ${ns} }
spec:
  targetRefs: [{ kind: Service, name: ${name} }]
  limits: [{ key: caller, requests: 100, per: 1s }]
---
apiVersion: weft.dev/v1alpha1
kind: AuthorizationPolicy
metadata: { name: ${name}, namespace: ${ns} }
spec:
  targetRefs: [{ kind: Service, name: ${name} }]
  action: ALLOW
  rules: [{ from: [{ service: ${next}, namespace: ${nextNs} }] }]
`);
    }
    put(`${ns}/${name}.yaml`, docs.join('---\n'));
  }
  return { files, bytes };
}

interface Sample {
  services: number;
  files: number;
  bytes: number;
  totalMs: number;
  totalCpuMs: number;
  /** Wall ms per pass. */
  passes: Record<string, number>;
  /** CPU ms per pass (user + system, this process). */
  passesCpu: Record<string, number>;
  peakRssMb: number;
  bundleBytes: number;
  errors: number;
}

const cpuMs = (): number => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
};

/**
 * child compiles one generated repository `runs` times with compile() and prints the fastest run
 * as JSON. compile() reports each pass's wall time; a PassObserver adds its CPU time (the steadier
 * figure on a shared machine).
 */
async function child(dir: string, services: number, files: number, bytes: number, runs: number): Promise<void> {
  let best: Sample | null = null;
  for (let i = 0; i < runs; i++) {
    const passesCpu: Record<string, number> = {};
    const cpuStarted = new Map<string, number>();
    const started = performance.now();
    const startedCpu = cpuMs();
    const result = await compile(
      { dir },
      {
        started: (name) => void cpuStarted.set(name, cpuMs()),
        ended: (name) => void (passesCpu[name] = cpuMs() - (cpuStarted.get(name) ?? cpuMs())),
      },
    );
    const sample: Sample = {
      services,
      files,
      bytes,
      totalMs: performance.now() - started,
      totalCpuMs: cpuMs() - startedCpu,
      passes: result.timings,
      passesCpu,
      peakRssMb: process.resourceUsage().maxRSS / 1024,
      bundleBytes: result.bundleJson?.length ?? 0,
      errors: result.diagnostics.filter((d) => d.severity === 'error').length,
    };
    if (!best || sample.totalMs < best.totalMs) best = sample;
  }
  process.stdout.write(`${JSON.stringify(best)}\n`);
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const target = arg('--generate');
  if (target !== undefined) {
    // Write a repository and stop: for profiling one pass, or for trying `weft compile` on it.
    const { files, bytes } = generate(target, Number(arg('--services') ?? '1000'));
    console.log(`wrote ${files} files (${(bytes / 1e6).toFixed(1)} MB) to ${target}`);
    return;
  }
  const childDir = arg('--child');
  if (childDir !== undefined) {
    await child(childDir, Number(arg('--services')), Number(arg('--files')), Number(arg('--bytes')), Number(arg('--runs') ?? '1'));
    return;
  }
  const sizes = (arg('--sizes') ?? '100,1000,10000').split(',').map(Number);
  const runs = arg('--runs') ?? '2';
  const self = fileURLToPath(import.meta.url);
  const samples: Sample[] = [];
  for (const n of sizes) {
    const dir = mkdtempSync(path.join(tmpdir(), `weft-bench-${n}-`));
    try {
      const { files, bytes } = generate(dir, n);
      const out = execFileSync(process.execPath, [self, '--child', dir, '--services', String(n), '--files', String(files), '--bytes', String(bytes), '--runs', runs], {
        encoding: 'utf8',
        maxBuffer: 16 * 1024 * 1024,
      });
      samples.push(JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as Sample);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  if (process.argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify(samples, null, 2)}\n`);
    return;
  }
  const passNames = ['load', 'parse', 'validate', 'resolve', 'analyze', 'lower', 'emit'];
  const ms = (wall: number | undefined, cpu: number | undefined): string => `${(wall ?? 0).toFixed(0)} / ${(cpu ?? 0).toFixed(0)}`;
  console.log(`compile benchmark: ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), node ${process.version}, fastest of ${runs} run(s); cells are wall / CPU ms`);
  console.log(`| services | routes | files | MB in | ${passNames.join(' | ')} | total | peak RSS MB | bundle MB | errors |`);
  console.log(`|---:|---:|---:|---:|${passNames.map(() => '---:').join('|')}|---:|---:|---:|---:|`);
  for (const s of samples) {
    const cells = passNames.map((p) => ms(s.passes[p], s.passesCpu[p]));
    console.log(`| ${s.services} | ${s.services * ROUTES_PER_SERVICE} | ${s.files} | ${(s.bytes / 1e6).toFixed(1)} | ${cells.join(' | ')} | ${ms(s.totalMs, s.totalCpuMs)} | ${s.peakRssMb.toFixed(0)} | ${(s.bundleBytes / 1e6).toFixed(1)} | ${s.errors} |`);
  }
  const t1k = samples.find((s) => s.services === 1000)?.totalMs;
  const t10k = samples.find((s) => s.services === 10000)?.totalMs;
  if (t1k && t10k) {
    console.log(`T10k/T1k = ${(t10k / t1k).toFixed(1)} (goal ≤ 12); 1k ${t1k < 1000 ? 'meets' : 'MISSES'} < 1 s; 10k ${t10k < 8000 ? 'meets' : 'MISSES'} < 8 s`);
  }
}

await main();
