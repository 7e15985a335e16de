/**
 * Incremental compilation (compiler/memo.ts) gives byte-identical bundles and the same findings
 * as a cold compile. A real git repository in a temp dir takes a seeded history of random edits
 * (weights, ports that backends resolve to, endpoints, policies, MeshConfig defaults, egress,
 * GRPCRoutes added, removed, moved between producer and consumer tables, their method matches and
 * weights,
 * files added, deleted and renamed, syntax errors made and fixed, duplicates); every commit is
 * compiled with one long-lived memo and without, and the two results must be equal. The memo
 * must also re-parse only the files a commit changed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import os from 'node:os';
import path from 'node:path';
import { compile } from '../../compiler/compile.js';
import { CompileMemo } from '../../compiler/memo.js';
import { bundleTextChunks } from '../../compiler/emit.js';

const run = promisify(execFile);
/** The file size limit both compiles of the history use, so a file can be made to exceed it. */
const MAX_FILE_BYTES = 16 * 1024;
const env = { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.org', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.org', GIT_CONFIG_NOSYSTEM: '1', HOME: os.tmpdir() };
const git = async (dir: string, ...args: string[]): Promise<string> => (await run('git', ['-c', 'commit.gpgsign=false', ...args], { cwd: dir, env })).stdout.trim();

/** pick is a random element of `xs`. */
function pick<T>(xs: readonly T[], rand: () => number): T {
  return xs[Math.floor(rand() * xs.length)]!;
}

/** mulberry32: a small seeded PRNG, so the history is the same on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface SvcState {
  ns: string;
  name: string;
  port: number;
  endpoints: number;
  weight: number;
  authz: boolean;
  egress: string | null;
  /**
   * A GRPCRoute attached to the Service: 0 none; 1 producer (same namespace: it wins the port over
   * the HTTPRoute, WFT517); 2 consumer (from namespace ns9, its own table). Its method match and
   * weight vary.
   */
  grpc: 0 | 1 | 2;
  grpcMatch: 0 | 1 | 2 | 3;
  grpcWeight: number;
  file: string;
}

/** GRPC_MATCHES are the GRPCRoute method matches the history chooses from (each lowers differently). */
const GRPC_MATCHES = [
  '{ method: { service: shop.Cart, method: Get } }',
  '{ method: { service: shop.Cart } }',
  '{ method: { type: RegularExpression, method: "Get.*" }, headers: [{ name: x-env, value: prod }] }',
  '{ method: { method: List } }',
] as const;

function grpcRoute(s: SvcState, next: SvcState): string {
  const ns = s.grpc === 1 ? s.ns : 'ns9';
  return `apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: { name: ${s.name}-grpc, namespace: ${ns} }
spec:
  parentRefs: [{ kind: Service, name: ${s.name}, namespace: ${s.ns} }]
  rules:
    - matches: [${GRPC_MATCHES[s.grpcMatch]}]
      backendRefs:
        - { name: ${next.name}, namespace: ${next.ns}, weight: ${s.grpcWeight} }
        - { name: ${s.name}, namespace: ${s.ns}, weight: 1 }
    - backendRefs: [{ name: ${s.name}, namespace: ${s.ns} }]
`;
}

function serviceFile(s: SvcState, next: SvcState): string {
  const docs = [`apiVersion: weft.dev/v1alpha1
kind: Service
metadata: { name: ${s.name}, namespace: ${s.ns} }
spec:
  ports: [{ name: http, port: ${s.port} }]
  endpoints:
${Array.from({ length: s.endpoints }, (_, i) => `    - { address: 10.0.0.${i + 1}, labels: { v: "${i}" } }`).join('\n') || '    []'}
${s.egress ? `  egress: ["${s.egress}"]\n` : ''}`, `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: ${s.name}, namespace: ${s.ns} }
spec:
  parentRefs: [{ kind: Service, name: ${s.name} }]
  rules:
    - matches: [{ path: { type: PathPrefix, value: /api } }]
      backendRefs:
        - { name: ${s.name}, weight: ${s.weight} }
        - { name: ${next.name}, namespace: ${next.ns}, weight: 1 }
      timeouts: { request: 5s }
`];
  if (s.grpc !== 0) docs.push(grpcRoute(s, next));
  if (s.authz) {
    docs.push(`apiVersion: weft.dev/v1alpha1
kind: AuthorizationPolicy
metadata: { name: ${s.name}, namespace: ${s.ns} }
spec:
  targetRefs: [{ kind: Service, name: ${s.name} }]
  action: ALLOW
  rules: [{ from: [{ service: ${next.name}, namespace: ${next.ns} }] }]
`);
  }
  return docs.join('---\n');
}

describe('incremental compilation', { timeout: 300_000 }, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'weft-incremental-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('gives the cold compile\'s bundle and findings at every commit of a random history', async () => {
    const rand = prng(20261130);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const svcs: SvcState[] = Array.from({ length: 12 }, (_, i) => ({
      ns: `ns${i % 3}`, name: `s${i}`, port: 80, endpoints: 1 + (i % 2), weight: 1 + (i % 4), authz: i % 4 === 0, egress: null,
      grpc: (i % 5 === 0 ? 1 : i % 5 === 1 ? 2 : 0) as SvcState['grpc'], grpcMatch: (i % 4) as SvcState['grpcMatch'], grpcWeight: 1 + (i % 3), file: `ns${i % 3}/s${i}.yaml`,
    }));
    let mesh = 'apiVersion: weft.dev/v1alpha1\nkind: MeshConfig\nmetadata: { name: mesh }\nspec:\n  defaults:\n    timeouts: { request: 15s }\n';
    let broken: string | null = null;
    let duplicate = false;
    // What load must see exactly as a cold compile does: files over the size limit and files that
    // are not UTF-8 (each for one commit), a folder git lists but the compiler skips, a file that is not policy, and a
    // symlink (not a policy file in git, as ls-tree would have it).
    let big = false;
    let binary = false;
    let hidden = false;
    let readme = false;
    let link = false;
    let executable = false;
    const repo = path.join(dir, 'repo');
    await mkdir(repo, { recursive: true });
    await git(repo, 'init', '-q', '-b', 'main');
    const files = (): Record<string, string> => {
      const out: Record<string, string> = { 'mesh.yaml': mesh };
      svcs.forEach((s, i) => (out[s.file] = serviceFile(s, svcs[(i + 1) % svcs.length]!)));
      if (broken) out[broken] = 'apiVersion: weft.dev/v1alpha1\nkind: Service\nmetadata: { name: oops\n  spec: [\n';
      if (duplicate) out['dup.yaml'] = serviceFile(svcs[0]!, svcs[1]!).split('---\n')[0]!;
      if (big) out['ns1/big.yaml'] = `# ${'x'.repeat(MAX_FILE_BYTES)}\n`;
      if (hidden) out['.hidden/s.yaml'] = serviceFile(svcs[0]!, svcs[1]!);
      if (readme) out['ns0/README.md'] = `notes ${svcs.length}\n`;
      return out;
    };
    const binaryFile = path.join(repo, 'ns2', 'latin1.yaml');
    const linkFile = path.join(repo, 'ns0', 'link.yaml');
    let previous = new Set<string>();
    const commitAll = async (message: string): Promise<string> => {
      const now = files();
      for (const f of previous) if (!(f in now)) await rm(path.join(repo, f), { force: true });
      for (const [f, text] of Object.entries(now)) {
        await mkdir(path.dirname(path.join(repo, f)), { recursive: true });
        await writeFile(path.join(repo, f), text);
      }
      previous = new Set(Object.keys(now));
      await rm(binaryFile, { force: true });
      await mkdir(path.dirname(binaryFile), { recursive: true });
      // The same blob under another mode changes the tree, not the file.
      await chmod(path.join(repo, svcs[1]!.file), executable ? 0o755 : 0o644);
      if (binary) await writeFile(binaryFile, Buffer.from([0x6b, 0x69, 0x6e, 0x64, 0x3a, 0x20, 0xff, 0xfe, 0x0a]));
      await rm(linkFile, { force: true });
      if (link) await symlink(path.basename(svcs[0]!.file), linkFile);
      await git(repo, 'add', '-A');
      await git(repo, 'commit', '-q', '--allow-empty', '-m', message);
      return git(repo, 'rev-parse', 'HEAD');
    };

    const edits: [string, () => void][] = [
      ['weight', () => (pick(svcs).weight = 1 + Math.floor(rand() * 9))],
      ['port', () => (pick(svcs).port = pick([80, 8080, 9090]))],
      ['endpoints', () => (pick(svcs).endpoints = Math.floor(rand() * 3))],
      ['authz', () => { const s = pick(svcs); s.authz = !s.authz; }],
      ['egress', () => (pick(svcs).egress = pick([null, '*/*', 'ns0/*', 'ns1/s1']))],
      ['mesh', () => (mesh = mesh.replace(/request: \d+s/, `request: ${10 + Math.floor(rand() * 20)}s`))],
      ['mesh-egress', () => (mesh = mesh.includes('egress') ? mesh.replace(/ {4}egress: .*\n/, '') : `${mesh}    egress: ["ns2/*", "ns0/s0"]\n`)],
      ['rename', () => { const s = pick(svcs); s.file = s.file.includes('moved/') ? s.file.replace('moved/', '') : `moved/${s.file}`; }],
      // Non-ASCII names: git's trees hold UTF-8 bytes; the source map's text carries them.
      ['unicode', () => { const s = pick(svcs); s.file = s.file.includes('ü') ? s.file.replace('ü-😀/', '') : `ü-😀/${s.file}`; }],
      ['grpc', () => (pick(svcs).grpc = pick([0, 1, 2] as const))],
      ['grpc-match', () => (pick(svcs).grpcMatch = pick([0, 1, 2, 3] as const))],
      ['grpc-weight', () => (pick(svcs).grpcWeight = Math.floor(rand() * 4))],
      ['add', () => svcs.push({ ns: pick(['ns0', 'ns1', 'ns2']), name: `s${svcs.length + 100}`, port: 80, endpoints: 1, weight: 1, authz: false, egress: null, grpc: 0, grpcMatch: 0, grpcWeight: 1, file: `new/s${svcs.length + 100}.yaml` })],
      ['remove', () => { if (svcs.length > 6) svcs.splice(2 + Math.floor(rand() * (svcs.length - 3)), 1); }],
      ['break', () => (broken = broken ? null : `broken/${Math.floor(rand() * 3)}.yaml`)],
      ['duplicate', () => (duplicate = !duplicate)],
      // Errors for one commit: the next one removes the file again.
      ['big', () => (big = true)],
      ['binary', () => (binary = true)],
      ['hidden', () => (hidden = !hidden)],
      ['readme', () => (readme = !readme)],
      ['link', () => (link = !link)],
      ['executable', () => (executable = !executable)],
    ];

    const memo = new CompileMemo();
    let compared = 0;
    let withGrpc = 0;
    for (let i = 0; i < 80; i++) {
      const [what, edit] = i === 0 ? (['initial', () => undefined] as [string, () => void]) : pick(edits);
      edit();
      const sha = await commitAll(`${i}: ${what}`);
      // Mostly the commit's id (as the controller asks), sometimes a name git must resolve.
      const rev = i % 7 === 3 ? 'main' : sha;
      const warm = await compile({ dir: repo, rev, memo, maxFileBytes: MAX_FILE_BYTES });
      const cold = await compile({ dir: repo, rev, maxFileBytes: MAX_FILE_BYTES });
      assert.equal(warm.bundleJson, cold.bundleJson, `commit ${i} (${what}): bundles differ`);
      // The controller writes the bundle in chunks, each consumed before the next (a small buffer here, so texts are sliced).
      if (warm.bundle) assert.ok(Buffer.concat(Array.from(bundleTextChunks(warm.bundle, Buffer.alloc(1000)), (c) => Buffer.from(c))).equals(Buffer.from(cold.bundleJson ?? '')), `commit ${i} (${what}): chunks differ`);
      assert.deepEqual(warm.diagnostics, cold.diagnostics, `commit ${i} (${what}): findings differ`);
      big = binary = false;
      if (cold.bundleJson !== null) compared++;
      if (cold.bundleJson?.includes('"kind":"GRPCRoute"')) withGrpc++;
    }
    memo.close();
    assert.ok(compared >= 20, `only ${compared} commits compiled to a bundle`);
    assert.ok(withGrpc >= 15, `only ${withGrpc} bundles held a GRPCRoute rule`);
  });

  it('gives the cold compile\'s digest when a commit changes, adds or removes one Service of hundreds', async () => {
    // Enough Services that emit's digest checkpoints (every 128 entries) are resumed from the
    // middle of the spec, and entries shift when one is added or removed.
    const rand = prng(17);
    const repo = path.join(dir, 'many');
    await mkdir(repo, { recursive: true });
    await git(repo, 'init', '-q', '-b', 'main');
    const svcs: SvcState[] = Array.from({ length: 420 }, (_, i) => ({ ns: `ns${i % 4}`, name: `s${i}`, port: 80, endpoints: 1, weight: 1 + (i % 5), authz: false, egress: null, grpc: 0, grpcMatch: 0, grpcWeight: 1, file: `ns${i % 4}/s${i}.yaml` }));
    for (let k = 0; k < 4; k++) await mkdir(path.join(repo, `ns${k}`));
    const memo = new CompileMemo();
    let written = new Set<string>();
    for (let i = 0; i < 14; i++) {
      if (i > 0) {
        const what = rand();
        if (what < 0.6) pick(svcs, rand).weight = 1 + Math.floor(rand() * 50);
        else if (what < 0.8) svcs.splice(Math.floor(rand() * svcs.length), 1);
        else svcs.push({ ...pick(svcs, rand), name: `x${i}`, file: `ns${i % 4}/x${i}.yaml`, ns: `ns${i % 4}` });
      }
      const now = new Set(svcs.map((s) => s.file));
      for (const f of written) if (!now.has(f)) await rm(path.join(repo, f));
      for (const s of svcs) await writeFile(path.join(repo, s.file), serviceFile(s, s));
      written = now;
      await git(repo, 'add', '-A');
      await git(repo, 'commit', '-q', '--allow-empty', '-m', `${i}`);
      const sha = await git(repo, 'rev-parse', 'HEAD');
      const warm = await compile({ dir: repo, rev: sha, memo });
      const cold = await compile({ dir: repo, rev: sha });
      assert.ok(cold.bundle, `commit ${i}: no bundle`);
      assert.equal(warm.bundle?.digest, cold.bundle.digest, `commit ${i}: digests differ`);
      assert.equal(warm.bundleJson, cold.bundleJson, `commit ${i}: bundles differ`);
    }
    memo.close();
  });

  it('re-parses only the files a commit changed, and keeps the entries of unchanged Services', async () => {
    const repo = path.join(dir, 'small');
    await mkdir(repo, { recursive: true });
    await git(repo, 'init', '-q', '-b', 'main');
    const svcs: SvcState[] = Array.from({ length: 20 }, (_, i) => ({ ns: 'default', name: `s${i}`, port: 80, endpoints: 1, weight: 1, authz: false, egress: 'default/*', grpc: 0, grpcMatch: 0, grpcWeight: 1, file: `${i % 2 === 0 ? 'a' : 'b'}/s${i}.yaml` }));
    await mkdir(path.join(repo, 'a'));
    await mkdir(path.join(repo, 'b'));
    // Each Service calls only itself here, so its entry depends on no other Service's ports.
    const put = async (): Promise<string> => {
      for (const s of svcs) await writeFile(path.join(repo, s.file), serviceFile(s, s));
      await git(repo, 'add', '-A');
      await git(repo, 'commit', '-q', '-m', 'x');
      return git(repo, 'rev-parse', 'HEAD');
    };
    const memo = new CompileMemo();
    const first = await compile({ dir: repo, rev: await put(), memo });
    assert.ok(first.bundle);
    assert.equal(memo.stats.parsed, 20);
    svcs[7]!.weight = 5;
    const second = await compile({ dir: repo, rev: await put(), memo });
    assert.ok(second.bundle);
    // Only the folders on the edited file's path are listed again (the root and b/); the edited
    // file's route is resolved again (its Service object is new), the others replay.
    assert.deepEqual({ ...memo.stats }, { listed: 2, parsed: 1, reused: 19, resolved: 1, tabled: 1, lowered: 1, kept: 19 });
    // Kept entries are the very same objects, so emit reuses their text.
    assert.equal(second.bundle.spec.services[0], first.bundle.spec.services[0]);
    assert.deepEqual(memo.size, { files: 20, services: 20 });
    memo.close();
  });
});
