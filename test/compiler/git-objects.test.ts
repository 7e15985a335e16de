/**
 * GitObjectReader (compiler/git-objects.ts) against a real repository: it answers what git's own
 * commands answer (objects, trees, a branch that moves, missing names), skips content over a
 * limit without holding it, and starts again after its process dies. The controller's
 * commitInfoOf (runtime/controller/git.ts) reads the same details `git show` prints.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import os from 'node:os';
import path from 'node:path';
import { GitObjectReader, parseTree } from '../../compiler/git-objects.js';
import { commitInfo, commitInfoOf, gitAt } from '../../runtime/controller/git.js';
import { within } from '../helpers/proxy-harness.js';

const run = promisify(execFile);
const env = { ...process.env, GIT_AUTHOR_NAME: 'Ann Other', GIT_AUTHOR_EMAIL: 'ann@example.org', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.org', GIT_CONFIG_NOSYSTEM: '1', HOME: os.tmpdir() };
const git = async (dir: string, args: string[], extra: Record<string, string> = {}): Promise<string> =>
  (await run('git', ['-c', 'commit.gpgsign=false', ...args], { cwd: dir, env: { ...env, ...extra } })).stdout;

describe('GitObjectReader', { timeout: 60_000 }, () => {
  let dir: string;
  let reader: GitObjectReader;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'weft-git-objects-'));
    await git(dir, ['init', '-q', '-b', 'main']);
    await writeFile(path.join(dir, 'a.yaml'), 'kind: A\n');
    await writeFile(path.join(dir, 'big.yaml'), `# ${'x'.repeat(200_000)}\n`);
    await git(dir, ['add', '-A']);
    await git(dir, ['commit', '-q', '-m', 'one']);
    reader = new GitObjectReader(dir, 10_000);
  });
  after(async () => {
    reader.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers as git does: commits, trees, blobs, a moving branch, missing names', async () => {
    const head = (await git(dir, ['rev-parse', 'HEAD'])).trim();
    const commit = await within(reader.read('refs/heads/main^{commit}'), 10_000, 'the branch head');
    assert.equal(commit?.oid, head);
    assert.equal(commit?.type, 'commit');
    const tree = await within(reader.read(`${head}^{tree}`), 10_000, 'the root tree');
    assert.equal(tree?.type, 'tree');
    const entries = parseTree(tree!.bytes!, 20);
    const listed = (await git(dir, ['ls-tree', head])).trim().split('\n').map((l) => {
      const [meta, name] = l.split('\t');
      const [mode, , oid] = meta!.split(' ');
      return { mode: mode!.replace(/^0+/, ''), name: name!, oid: oid! };
    });
    assert.deepEqual(entries, listed);
    const blob = await within(reader.read(entries.find((e) => e.name === 'a.yaml')!.oid), 10_000, 'a blob');
    assert.equal(blob?.bytes?.toString('utf8'), 'kind: A\n');
    // Over the limit: the size is told, the content is not held; the stream stays in step.
    const [big, after] = await within(Promise.all([reader.read(`${head}:big.yaml`, 1000), reader.read(`${head}:a.yaml`)]), 10_000, 'a skipped blob and the next');
    assert.equal(big?.bytes, null);
    assert.equal(big?.size, 200_003);
    assert.equal(after?.bytes?.toString('utf8'), 'kind: A\n');
    assert.equal(await within(reader.read('0000000000000000000000000000000000000001'), 10_000, 'a missing object'), null);
    // The process outlives commits: a new commit and the moved branch are seen.
    await writeFile(path.join(dir, 'a.yaml'), 'kind: B\n');
    await git(dir, ['commit', '-q', '-am', 'two']);
    const moved = (await git(dir, ['rev-parse', 'HEAD'])).trim();
    assert.equal((await within(reader.read('refs/heads/main^{commit}'), 10_000, 'the moved head'))?.oid, moved);
    assert.equal((await within(reader.read(`${moved}:a.yaml`), 10_000, 'the new blob'))?.bytes?.toString('utf8'), 'kind: B\n');
  });

  it('fails pending reads when its process dies, and starts a new one for the next', async () => {
    const pending = reader.read('refs/heads/main^{commit}');
    reader.close();
    await assert.rejects(within(pending, 10_000, 'the failed read'), /closed/);
    const again = await within(reader.read('refs/heads/main^{commit}'), 10_000, 'a read after the restart');
    assert.equal(again?.type, 'commit');
  });

  it('commitInfoOf reads what git show prints: author, committer date in its offset, one-line subject', async () => {
    const cases: [string, string][] = [
      ['first line\nsecond line\n\nbody', '2026-01-02T03:04:05-0730'],
      ['  indented subject  ', '2026-06-02T23:59:59+0545'],
      ['plain', '2026-11-30T00:00:00+0000'],
    ];
    for (const [message, date] of cases) {
      await git(dir, ['commit', '-q', '--allow-empty', '--cleanup=verbatim', '-m', message], { GIT_COMMITTER_DATE: date });
      const sha = (await git(dir, ['rev-parse', 'HEAD'])).trim();
      const raw = (await within(reader.read(sha), 10_000, 'the commit object'))!.bytes!.toString('utf8');
      assert.deepEqual(commitInfoOf(sha, raw), await commitInfo(gitAt(dir), sha), `commit ${JSON.stringify(message)} at ${date}`);
    }
  });
});
