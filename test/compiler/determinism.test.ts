/**
 * Determinism through the whole compiler (compile()): the same tree written to two directories in
 * different file creation orders gives the same bytes, and in a real git repository a commit that
 * only renames a file or edits a README keeps the digest (proxies do not reload for it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { compile } from '../../compiler/compile.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** The example mesh's YAML files (CUE left out: it is slow, and not what this test is about). */
function exampleTree(): Record<string, string> {
  const base = path.join(ROOT, 'policies');
  const files: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const f of readdirSync(d)) {
      const p = path.join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.ya?ml$/.test(f)) files[path.relative(base, p).split(path.sep).join('/')] = readFileSync(p, 'utf8');
    }
  };
  walk(base);
  return files;
}

function write(dir: string, files: Record<string, string>, order: string[]): void {
  for (const rel of order) {
    const p = path.join(dir, ...rel.split('/'));
    mkdirSync(path.dirname(p), { recursive: true });
    writeFileSync(p, files[rel] ?? '');
  }
}

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8' }).trim();
}

test('the same tree in two directories, written in opposite orders, compiles to identical bytes', async (t) => {
  const files = exampleTree();
  const names = Object.keys(files).sort();
  const a = mkdtempSync(path.join(tmpdir(), 'weft-det-a-'));
  const b = mkdtempSync(path.join(tmpdir(), 'weft-det-bb-'));
  t.after(() => {
    rmSync(a, { recursive: true, force: true });
    rmSync(b, { recursive: true, force: true });
  });
  write(a, files, names);
  write(b, files, [...names].reverse());
  const ra = await compile({ dir: a });
  const rb = await compile({ dir: b });
  assert.deepEqual(ra.diagnostics.filter((d) => d.severity === 'error'), []);
  assert.ok(ra.bundleJson);
  assert.equal(ra.bundleJson, rb.bundleJson);
  assert.ok(!ra.bundleJson.includes(a) && !ra.bundleJson.includes(tmpdir()), 'no absolute paths in the bundle');
});

test('git: renaming a file or editing a README keeps the digest; changing a weight does not', async (t) => {
  const repo = mkdtempSync(path.join(tmpdir(), 'weft-git-'));
  t.after(() => rmSync(repo, { recursive: true, force: true }));
  git(repo, 'init', '-q', '-b', 'main');
  git(repo, 'config', 'user.name', 'Weft Test');
  git(repo, 'config', 'user.email', 'test@weft.invalid');
  git(repo, 'config', 'commit.gpgsign', 'false');
  const files = exampleTree();
  write(path.join(repo, 'mesh'), files, Object.keys(files).sort());
  writeFileSync(path.join(repo, 'README.md'), '# policies\n');
  git(repo, 'add', '-A');
  git(repo, 'commit', '-q', '-m', 'initial');

  const routes = Object.keys(files).find((f) => f.startsWith('routes/')) ?? Object.keys(files)[0]!;
  renameSync(path.join(repo, 'mesh', ...routes.split('/')), path.join(repo, 'mesh', 'renamed.yaml'));
  writeFileSync(path.join(repo, 'README.md'), '# policies\n\nNow with more words.\n');
  git(repo, 'add', '-A');
  git(repo, 'commit', '-q', '-m', 'rename a file, edit the README');

  const reviews = path.join(repo, 'mesh', 'routes', 'reviews.yaml');
  writeFileSync(reviews, readFileSync(reviews, 'utf8').replace('weight: 90', 'weight: 80'));
  git(repo, 'commit', '-q', '-am', 'shift reviews');

  const dir = path.join(repo, 'mesh');
  const [first, second, third] = await Promise.all(['HEAD~2', 'HEAD~1', 'HEAD'].map((rev) => compile({ dir, rev })));
  for (const r of [first, second, third]) assert.ok(r?.bundle, r?.diagnostics.map((d) => `${d.code} ${d.message}`).join('\n'));
  assert.equal(first!.bundle!.digest, second!.bundle!.digest);
  assert.notEqual(first!.bundle!.revision?.commit, second!.bundle!.revision?.commit);
  assert.notDeepEqual(first!.bundle!.sources, second!.bundle!.sources);
  assert.notEqual(second!.bundle!.digest, third!.bundle!.digest);
});
