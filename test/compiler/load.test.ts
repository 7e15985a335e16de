/**
 * The load pass against real folders and a real temporary git repository: file discovery and
 * order, the size limit (no read), and --rev reading an older commit while the working tree,
 * index and HEAD stay exactly as they were.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { load } from '../../compiler/load.js';
import { compile } from '../../compiler/compile.js';
import type { CompileOptions, PassContext } from '../../compiler/types.js';

function ctxFor(options: CompileOptions): PassContext {
  return { options, diagnostics: [], revision: null };
}

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'weft-load-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function write(root: string, rel: string, text: string): void {
  mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
  writeFileSync(path.join(root, rel), text);
}

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=Weft Test', '-c', 'user.email=test@weft.dev', '-c', 'commit.gpgsign=false', '-c', 'init.defaultBranch=main', ...args], { cwd, encoding: 'utf8' });
}

const service = (name: string, port: number): string => `apiVersion: weft.dev/v1alpha1
kind: Service
metadata: { name: ${name} }
spec:
  ports: [{ name: http, port: ${port} }]
  endpoints: [{ address: 127.0.0.1, port: ${port + 10000} }]
`;

test('load finds *.yaml, *.yml and *.cue files recursively, sorted, skipping dot folders and node_modules', async (t) => {
  const dir = tempDir(t);
  for (const f of ['b.yaml', 'a/z.yml', 'a/b/c.cue', 'A.yaml', '.hidden/x.yaml', 'node_modules/p/x.yaml', 'notes.txt', 'a/.git/x.yaml', 'x.yaml.bak']) write(dir, f, 'x: 1\n');
  const ctx = ctxFor({ dir });
  const tree = await load({ dir }, ctx);
  assert.deepEqual(
    tree.files.map((f) => f.path),
    ['A.yaml', 'a/b/c.cue', 'a/z.yml', 'b.yaml'],
  );
  assert.deepEqual(ctx.diagnostics, []);
  assert.equal(ctx.revision, null);
});

test('load refuses files over the limit without reading them, and reports missing folders', async (t) => {
  const dir = tempDir(t);
  write(dir, 'big.yaml', 'x'.repeat(2000));
  write(dir, 'small.yaml', 'a: 1\n');
  const ctx = ctxFor({ dir, maxFileBytes: 1000 });
  const tree = await load({ dir, maxFileBytes: 1000 }, ctx);
  assert.deepEqual(tree.files, [
    { path: 'big.yaml', size: 2000, text: null },
    { path: 'small.yaml', size: 5, text: 'a: 1\n' },
  ]);
  assert.deepEqual(ctx.diagnostics.map((d) => [d.code, d.file, d.line]), [['WFT101', 'big.yaml', 1]]);

  const missing = ctxFor({ dir: path.join(dir, 'nope') });
  assert.deepEqual((await load({ dir: path.join(dir, 'nope') }, missing)).files, []);
  assert.deepEqual(missing.diagnostics.map((d) => d.code), ['WFT102']);

  const empty = path.join(dir, 'empty');
  mkdirSync(empty);
  const none = ctxFor({ dir: empty });
  await load({ dir: empty }, none);
  assert.deepEqual(none.diagnostics.map((d) => [d.code, d.severity]), [['WFT104', 'warning']]);
});

test('load reports invalid UTF-8 and strips a byte-order mark', async (t) => {
  const dir = tempDir(t);
  writeFileSync(path.join(dir, 'bad.yaml'), Buffer.from([0x61, 0x3a, 0x20, 0xff, 0xfe, 0x0a]));
  writeFileSync(path.join(dir, 'bom.yaml'), '\ufeffa: 1\n');
  const ctx = ctxFor({ dir });
  const tree = await load({ dir }, ctx);
  assert.equal(tree.files[0]?.text, null);
  assert.equal(tree.files[1]?.text, 'a: 1\n');
  assert.deepEqual(ctx.diagnostics.map((d) => [d.code, d.file]), [['WFT201', 'bad.yaml']]);
});

test('--rev reads an older commit through git and leaves the working tree untouched', async (t) => {
  const repo = tempDir(t);
  git(repo, 'init', '-q');
  write(repo, 'README.md', 'not policy\n');
  write(repo, 'mesh/services/a.yaml', service('alpha', 8080));
  git(repo, 'add', '-A');
  git(repo, 'commit', '-qm', 'A');
  const commitA = git(repo, 'rev-parse', 'HEAD').trim();
  rmSync(path.join(repo, 'mesh/services/a.yaml'));
  write(repo, 'mesh/services/b.yaml', service('beta', 8081));
  git(repo, 'add', '-A');
  git(repo, 'commit', '-qm', 'B');
  // The working tree now holds a third state, uncommitted (and partly staged).
  write(repo, 'mesh/services/c.yaml', service('gamma', 8082));
  git(repo, 'add', 'mesh/services/c.yaml');
  write(repo, 'mesh/services/b.yaml', service('beta', 9999));
  const statusBefore = git(repo, 'status', '--porcelain=v1', '-uall');
  const headBefore = git(repo, 'rev-parse', 'HEAD');
  const indexBefore = readFileSync(path.join(repo, '.git', 'index'));

  const dir = path.join(repo, 'mesh');
  const ctx = ctxFor({ dir, rev: 'HEAD~1' });
  const tree = await load({ dir, rev: 'HEAD~1' }, ctx);
  assert.deepEqual(ctx.diagnostics, []);
  assert.deepEqual(tree.files.map((f) => f.path), ['services/a.yaml']);
  assert.equal(tree.files[0]?.text, service('alpha', 8080));
  assert.deepEqual(ctx.revision, { commit: commitA, ref: 'HEAD~1', path: 'mesh' });

  const result = await compile({ dir, rev: 'HEAD~1' });
  assert.ok(result.bundle, result.diagnostics.map((d) => d.message).join('\n'));
  assert.deepEqual(result.bundle.revision, { commit: commitA, ref: 'HEAD~1', path: 'mesh' });
  assert.match(JSON.stringify(result.bundle.spec), /alpha/);
  assert.doesNotMatch(JSON.stringify(result.bundle.spec), /beta|gamma/);

  assert.equal(git(repo, 'status', '--porcelain=v1', '-uall'), statusBefore);
  assert.equal(git(repo, 'rev-parse', 'HEAD'), headBefore);
  assert.deepEqual(readFileSync(path.join(repo, '.git', 'index')), indexBefore);
  assert.equal(readFileSync(path.join(repo, 'mesh/services/b.yaml'), 'utf8'), service('beta', 9999));
});

test('--rev: unknown revision, option-like revision, missing path and a folder outside git are diagnostics', async (t) => {
  const repo = tempDir(t);
  git(repo, 'init', '-q');
  write(repo, 'p/a.yaml', service('alpha', 8080));
  write(repo, 'p/big.yaml', `# ${'x'.repeat(300)}\n`);
  write(repo, 'g*/in.yaml', 'a: 1\n');
  write(repo, 'gx/out.yaml', 'a: 1\n');
  git(repo, 'add', '-A');
  git(repo, 'commit', '-qm', 'A');
  for (const [dir, rev, code] of [
    [repo, 'no-such-branch', 'WFT103'],
    [repo, '--output=/tmp/x', 'WFT103'],
    [path.join(repo, 'missing'), 'HEAD', 'WFT102'],
  ] as const) {
    const ctx = ctxFor({ dir, rev });
    assert.deepEqual((await load({ dir, rev }, ctx)).files, []);
    assert.deepEqual(ctx.diagnostics.map((d) => d.code), [code], `${dir} ${rev}`);
  }
  const limited = ctxFor({ dir: path.join(repo, 'p'), rev: 'HEAD', maxFileBytes: 200 });
  const tree = await load({ dir: path.join(repo, 'p'), rev: 'HEAD', maxFileBytes: 200 }, limited);
  assert.deepEqual(tree.files.map((f) => [f.path, f.text === null]), [['a.yaml', false], ['big.yaml', true]]);
  assert.deepEqual(limited.diagnostics.map((d) => d.code), ['WFT101']);

  // A folder named like a glob matches only itself.
  const glob = ctxFor({ dir: path.join(repo, 'g*'), rev: 'HEAD' });
  assert.deepEqual((await load({ dir: path.join(repo, 'g*'), rev: 'HEAD' }, glob)).files.map((f) => f.path), ['in.yaml']);

  const outside = tempDir(t);
  write(outside, 'a.yaml', service('alpha', 8080));
  const ctx = ctxFor({ dir: outside, rev: 'HEAD' });
  await load({ dir: outside, rev: 'HEAD' }, ctx);
  assert.deepEqual(ctx.diagnostics.map((d) => d.code), ['WFT103']);
});

test('a symlink that leads outside the folder is never read (WFT105); one inside is followed', async (t) => {
  const root = tempDir(t);
  // The "secret" is invalid YAML on purpose: were it read, a WFT201 finding would quote it.
  write(root, 'outside/secret.yaml', 'API_TOKEN=hunter2: [\n');
  write(root, 'mesh/reviews.yaml', service('reviews', 9080));
  write(root, 'mesh/real/ratings.yaml', service('ratings', 9081));
  symlinkSync(path.join(root, 'outside', 'secret.yaml'), path.join(root, 'mesh', 'leak.yaml'));
  symlinkSync(path.join('..', 'outside', 'secret.yaml'), path.join(root, 'mesh', 'relative-leak.yaml'));
  symlinkSync(path.join(root, 'mesh', 'real', 'ratings.yaml'), path.join(root, 'mesh', 'ratings-link.yaml'));
  const ctx = ctxFor({ dir: path.join(root, 'mesh') });
  const tree = await load(ctx.options, ctx);
  assert.deepEqual(tree.files.map((f) => f.path), ['ratings-link.yaml', 'real/ratings.yaml', 'reviews.yaml']);
  assert.deepEqual(ctx.diagnostics.map((d) => [d.code, d.file, d.severity]), [
    ['WFT105', 'leak.yaml', 'error'],
    ['WFT105', 'relative-leak.yaml', 'error'],
  ]);
  const result = await compile({ dir: path.join(root, 'mesh') });
  assert.doesNotMatch(JSON.stringify(result.diagnostics), /hunter2/);
});

