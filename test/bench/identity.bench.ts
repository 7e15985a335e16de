/**
 * Identity benchmark (`npm run bench:identity`): what the mesh CA and the leaf check cost. In
 * process: CPU per issued certificate (CSR check and signature), per leaf check (verifyLeaf, run
 * once per connection that establishes an identity) and per join-token check. Against a real
 * `weft controller --ca-dir` process: renewals per second over mTLS (POST /v1/certificates with
 * the current certificate, 4 keep-alive clients, closed loop). Correctness is in
 * test/identity/ and test/controller/identity.test.ts; speed is measured only here.
 *
 * Usage: node dist/test/bench/identity.bench.js [--seconds 3]
 */
import { cpus, loadavg } from 'node:os';
import path from 'node:path';
import { createSecureContext } from 'node:tls';
import { request } from 'undici';
import { createCa, loadCaDir, writeCaDir } from '../../runtime/identity/ca.js';
import { createCsr } from '../../runtime/identity/csr.js';
import { issueLeaf } from '../../runtime/identity/issue.js';
import { createJoinToken, verifyJoinToken } from '../../runtime/identity/join-token.js';
import { workloadId } from '../../runtime/identity/spiffe-id.js';
import { loadTrustBundle } from '../../runtime/identity/trust-bundle.js';
import { verifyLeaf } from '../../runtime/identity/verify-leaf.js';
import { controllerDispatcher } from '../../runtime/sources/controller-tls.js';
import { workload } from '../helpers/identity-kit.js';
import { initRepo, killAll, meshFiles, removeTmp, startController, tmpDir } from '../controller/helpers.js';
import { writeBenchSection } from './bench-kit.js';

/** cpuMsEach runs `fn` n times and returns the CPU time (user + system) per call, in ms. */
async function cpuMsEach(n: number, fn: (i: number) => unknown): Promise<number> {
  const t0 = process.cpuUsage();
  for (let i = 0; i < n; i++) await fn(i);
  const u = process.cpuUsage(t0);
  return (u.user + u.system) / 1000 / n;
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--seconds');
  const seconds = i >= 0 ? Number(process.argv[i + 1]) : 3;
  const ca = await createCa('weft.local');
  const bundle = loadTrustBundle(ca.certPem);
  const id = workloadId('weft.local', 'default', 'web');
  const csrs = await Promise.all(Array.from({ length: 200 }, () => createCsr().then((c) => c.csrPem)));
  const leaves: string[] = [];
  const issueMs = await cpuMsEach(csrs.length, async (k) => leaves.push((await issueLeaf(ca, csrs[k]!, { id })).certPem));
  const verifyMs = await cpuMsEach(1000, (k) => verifyLeaf(bundle, leaves[k % leaves.length]!));
  const tokens = Array.from({ length: 500 }, () => createJoinToken(ca, id).token);
  const tokenMs = await cpuMsEach(tokens.length, (k) => verifyJoinToken(tokens[k]!, ca.key.publicKey, 'weft.local'));

  const dir = await tmpDir('bench-identity');
  let renewals = 0;
  let failed = 0;
  let elapsed = 0;
  let controllerCpuMs = NaN;
  try {
    const caDir = path.join(dir, 'ca');
    await writeCaDir(caDir, await createCa('weft.local'));
    const meshCa = await loadCaDir(caDir);
    const repo = path.join(dir, 'repo');
    await initRepo(repo, meshFiles({ v1Port: 18301, v2Port: 18302, weights: [100, 0] }));
    const ctl = await startController(['--repo', repo, '--store', path.join(dir, 'store'), '--ca-dir', caDir, '--dashboard', '127.0.0.1:0']);
    const cpuSeconds = async (): Promise<number> => Number(/^weft_controller_process_cpu_seconds_total (\S+)$/m.exec(await (await request(`${ctl.dashboardUrl}/metrics`)).body.text())?.[1] ?? NaN);
    const w = await workload(meshCa, 'web');
    const csrPool = await Promise.all(Array.from({ length: 50 }, () => createCsr().then((c) => c.csrPem)));
    const clients = Array.from({ length: 4 }, () => controllerDispatcher(createSecureContext({ ca: meshCa.certPem, key: w.keyPem, cert: w.certPem }), 'weft.local'));
    const cpu0 = await cpuSeconds();
    const end = performance.now() + seconds * 1000;
    const start = performance.now();
    await Promise.all(
      clients.map(async (d, c) => {
        for (let k = c; performance.now() < end; k++) {
          const res = await request(`${ctl.url}/v1/certificates`, { method: 'POST', dispatcher: d, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ csr: csrPool[k % csrPool.length] }) });
          await res.body.dump();
          if (res.statusCode === 200) renewals++;
          else failed++;
        }
      }),
    );
    elapsed = (performance.now() - start) / 1000;
    controllerCpuMs = ((await cpuSeconds()) - cpu0) * 1000;
    await Promise.all(clients.map((d) => d.close()));
  } finally {
    await killAll();
    await removeTmp(dir);
  }

  const load = loadavg()[0]!.toFixed(1);
  const section = `## Identity

\`npm run bench:identity\`: the mesh CA's and the leaf check's cost. ${cpus().length} CPUs (${cpus()[0]?.model.trim() ?? 'unknown'}), node ${process.version}, load average ${load} when it ended; the machine is shared, so CPU time per operation is the figure to compare, not wall time.

| operation | CPU per operation |
|---|---:|
| issue a certificate (CSR check + ECDSA P-256 signature, @peculiar/x509) | ${issueMs.toFixed(2)} ms |
| verifyLeaf (chain, time, one SPIFFE URI SAN; once per identifying connection) | ${verifyMs.toFixed(3)} ms |
| verify a join token | ${tokenMs.toFixed(3)} ms |

Renewals against a real \`weft controller --ca-dir\` (POST /v1/certificates over mTLS, 4 keep-alive clients, ${seconds} s): ${renewals} renewals, ${failed} failed, **${(controllerCpuMs / Math.max(1, renewals)).toFixed(1)} ms of controller CPU per renewal** (weft_controller_process_cpu_seconds_total; ${(renewals / elapsed).toFixed(1)} per second of wall time on this loaded machine, i.e. about ${(1000 / (controllerCpuMs / Math.max(1, renewals))).toFixed(0)} per second per idle core). A fleet of 10,000 proxies on 24 h certificates renews once every 4.3 s on average.
`;
  process.stdout.write(section);
  if (failed > 0) process.exitCode = 1;
  writeBenchSection('Identity', section);
}

void main();
