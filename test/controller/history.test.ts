/**
 * The controller's commit history (the dashboard's chart markers) against a real git repository:
 * a revert commit that brings back an earlier bundle is an event of its own, the earlier commit's
 * event stays where it was, and a commit with no routing change and a rejected one are told apart.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { BAD_ROUTE, commit, getJson, git, initRepo, killAll, meshFiles, removeTmp, startController, tmpDir, waitCompiled } from './helpers.js';
import type { CommitEvent } from '../../runtime/controller/commit-history.js';

after(killAll);

test('history: published, no change, rejected and a revert each get their own event, keyed by commit', { timeout: 120_000 }, async (t) => {
  const dir = await tmpDir('history');
  t.after(() => removeTmp(dir));
  const repo = path.join(dir, 'repo');
  const mesh = (w: [number, number]): Record<string, string> => meshFiles({ v1Port: 18101, v2Port: 18102, weights: w });
  const first = await initRepo(repo, mesh([100, 0]));
  const ctl = await startController(['--repo', repo, '--store', path.join(dir, 'store'), '--poll', '10s']);
  await waitCompiled(ctl, first);
  const split = await commit(repo, { 'routes/web.yaml': mesh([50, 50])['routes/web.yaml']! }, 'split');
  await waitCompiled(ctl, split);
  const readme = await commit(repo, { 'README.md': 'docs only\n' }, 'docs');
  await waitCompiled(ctl, readme);
  const bad = await commit(repo, { 'routes/bad.yaml': BAD_ROUTE }, 'broken');
  await waitCompiled(ctl, bad);
  await git(repo, 'revert', '--no-edit', bad);
  await git(repo, 'revert', '--no-edit', split);
  const revert = (await git(repo, 'rev-parse', 'HEAD')).trim();
  await waitCompiled(ctl, revert);

  const doc = await getJson<{ history: CommitEvent[]; current: { digest: string } }>(`${ctl.url}/v1/status`);
  const byCommit = new Map(doc.history.map((e) => [e.commit, e]));
  const firstEvent = byCommit.get(first);
  const revertEvent = byCommit.get(revert);
  assert.ok(firstEvent && revertEvent, JSON.stringify(doc.history));
  assert.equal(firstEvent.outcome, 'published');
  assert.equal(byCommit.get(split)?.outcome, 'published');
  assert.equal(byCommit.get(readme)?.outcome, 'unchanged');
  assert.equal(byCommit.get(bad)?.outcome, 'rejected');
  assert.equal(revertEvent.outcome, 'reverted');
  // The revert serves the first commit's bundle again, yet the first commit's event is untouched.
  assert.equal(revertEvent.digest, firstEvent.digest);
  assert.equal(doc.current.digest, firstEvent.digest);
  assert.ok(Date.parse(revertEvent.at) > Date.parse(firstEvent.at));
  const commits = doc.history.map((e) => e.commit);
  assert.equal(new Set(commits).size, commits.length, 'one event per compiled commit');
});
