/**
 * `npm run bench`: every benchmark, one after another, each in its own process so one's memory
 * and warm-up never colour the next. Each writes its own section of BENCHMARKS.md.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BENCHES = ['compile.bench.js', 'proxy.bench.js', 'policies.bench.js', 'propagation.bench.js', 'discovery.bench.js', 'cue.bench.js', 'reload.bench.js', 'identity.bench.js'];

let failed = 0;
for (const file of BENCHES) {
  process.stdout.write(`\n=== ${file}\n`);
  const r = spawnSync(process.execPath, [path.join(HERE, file)], { stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    process.stdout.write(`${file} exited with ${r.status ?? r.signal}\n`);
  }
}
process.exitCode = failed === 0 ? 0 : 1;
