/**
 * The controller against a real git repository and the real compiler, as a child process:
 * serving and long-polling, bad commits, bursts, restarts from the store, signing, --out,
 * the webhook, usage errors. Loopback only; every process is killed in `after`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, verify } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { request } from 'undici';
import { signingPayload } from '../../schemas/canonical.js';
import type { Bundle } from '../../schemas/bundle.js';
import { hubSignature } from '../../runtime/controller/webhook.js';
import {
  BAD_ROUTE, commit, git, initRepo, killAll, meshFiles, removeTmp, spawnWeft, startController, statusOf, tmpDir,
  waitCompiled, waitFor, type ControllerProc,
} from './helpers.js';

const mesh = (w: [number, number], marker?: string): Record<string, string> =>
  meshFiles({ v1Port: 18001, v2Port: 18002, weights: w, ...(marker ? { marker } : {}) });

const inMesh = (files: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.entries(files).map(([k, v]) => [`mesh/${k}`, v]));

async function getBundle(url: string, headers: Record<string, string> = {}): Promise<{ status: number; etag: string | null; body: string }> {
  const res = await request(`${url}/v1/bundle?service=web&proxy=test-client`, { headers, headersTimeout: 60_000 });
  const body = await res.body.text();
  const etag = typeof res.headers.etag === 'string' ? res.headers.etag.replace(/"/g, '') : null;
  return { status: res.statusCode, etag, body };
}

async function metricsText(url: string): Promise<string> {
  const res = await request(`${url}/metrics`);
  return res.body.text();
}

describe('weft controller on a local repository', { timeout: 120_000 }, () => {
  let dir: string;
  let repo: string;
  let store: string;
  let ctl: ControllerProc;
  let first: string;

  before(async () => {
    dir = await tmpDir('ctl');
    repo = path.join(dir, 'repo');
    store = path.join(dir, 'store');
    first = await initRepo(repo, mesh([100, 0]));
    ctl = await startController(['--repo', repo, '--store', store, '--out', path.join(dir, 'out', 'bundle.json'), '--poll', '10s']);
  });

  after(async () => {
    await killAll();
    await removeTmp(dir);
  });

  it('serves the head commit with its digest as ETag, and 304 to a client that has it', async () => {
    const s = await waitCompiled(ctl, first);
    assert.equal(s.lastCompile?.ok, true);
    assert.equal(s.ready, true);
    assert.equal(s.current?.commit?.commit, first);
    assert.equal(s.current?.commit?.message, 'initial policies');
    const r = await getBundle(ctl.url);
    assert.equal(r.status, 200);
    assert.equal(r.etag, s.current?.digest);
    const bundle = JSON.parse(r.body) as Bundle;
    assert.equal(bundle.digest, r.etag);
    assert.equal(bundle.revision?.commit, first);
    const again = await getBundle(ctl.url, { 'if-none-match': `"${r.etag}"` });
    assert.equal(again.status, 304);
    const out = await readFile(path.join(dir, 'out', 'bundle.json'), 'utf8');
    assert.equal(out, r.body, '--out holds the bytes being served');
    assert.equal((await request(`${ctl.url}/readyz`)).statusCode, 200);
    assert.equal((await request(`${ctl.url}/healthz`)).statusCode, 200);
    assert.equal((await request(`${ctl.url}/no-such-path`)).statusCode, 404);
  });

  it('holds a long-poll until a commit changes the bundle, and answers 304 when the wait ends', async () => {
    const before = await getBundle(ctl.url);
    const t0 = Date.now();
    const expired = await getBundle(ctl.url, { 'if-none-match': `"${before.etag}"`, prefer: 'wait=1' });
    assert.equal(expired.status, 304);
    assert.ok(Date.now() - t0 >= 950, 'not answered before the wait');
    const held = getBundle(ctl.url, { 'if-none-match': `"${before.etag}"`, prefer: 'wait=50' });
    await new Promise((r) => setTimeout(r, 200));
    const sha = await commit(repo, mesh([0, 100]), 'shift web to v2');
    const woken = await held;
    assert.equal(woken.status, 200);
    assert.notEqual(woken.etag, before.etag);
    assert.equal((JSON.parse(woken.body) as Bundle).revision?.commit, sha);
    const m = await metricsText(ctl.url);
    assert.match(m, new RegExp(`weft_controller_bundle_info\\{digest="${woken.etag}",revision="${sha}"\\} 1`));
    assert.match(m, /weft_controller_compiles_total\{result="ok"\} \d+/);
    assert.match(m, /weft_controller_compile_duration_seconds_bucket/);
  });

  it('keeps the last good bundle when a commit fails, shows why, and ships the next good commit', async () => {
    const good = await statusOf(ctl);
    const bad = await commit(repo, { 'routes/broken.yaml': BAD_ROUTE }, 'break it');
    const s = await waitCompiled(ctl, bad);
    assert.equal(s.lastCompile?.ok, false);
    assert.equal(s.current?.digest, good.current?.digest, 'previous bundle still served');
    const d = s.lastCompile?.diagnostics.find((x) => x.code === 'WFT403');
    assert.ok(d, 'WFT403 reported');
    assert.equal(d.file, 'routes/broken.yaml');
    assert.ok(d.line > 0);
    assert.ok(ctl.logs.some((l) => l.msg === 'commit rejected: the previous bundle stays live' && l.commit === bad), 'logged');
    assert.match(await metricsText(ctl.url), /weft_controller_compiles_total\{result="failed"\} [1-9]/);
    const r = await getBundle(ctl.url);
    assert.equal(r.etag, good.current?.digest);

    // weft status shows the failure with file:line and code.
    const st = spawnWeft(['status', '--controller', ctl.url]);
    // The test client above asked for bundles but never reported one active: it is behind.
    assert.equal(await st.exited, 1);
    const text = st.stdout.join('');
    assert.match(text, /FAILED/);
    assert.match(text, /routes\/broken\.yaml:\d+:\d+ error WFT403/);

    const fixed = await commit(repo, { 'routes/broken.yaml': null, ...mesh([50, 50]) }, 'fix it');
    const s2 = await waitCompiled(ctl, fixed);
    assert.equal(s2.lastCompile?.ok, true);
    assert.notEqual(s2.current?.digest, good.current?.digest);
    assert.equal(s2.current?.commit?.commit, fixed);
  });

  it('ends a burst of ten commits on the newest', async () => {
    let last = '';
    for (let i = 0; i < 10; i++) last = await commit(repo, mesh([50, 50], `burst-${i}`), `burst ${i}`);
    const s = await waitFor(async () => {
      const x = await statusOf(ctl);
      return x.current?.commit?.commit === last ? x : null;
    }, 30_000, 'newest commit served', ctl);
    const r = await getBundle(ctl.url);
    assert.equal(r.etag, s.current?.digest);
    assert.equal((JSON.parse(r.body) as Bundle).revision?.commit, last);
    const compiled = ctl.logs.filter((l) => l.msg === 'compiled' && typeof l.commit === 'string').map((l) => l.commit);
    assert.equal(compiled.at(-1), last, 'the last compile is of the newest commit');
  });

  it('serves the stored bundle at once after a restart, before recompiling', async () => {
    const served = await statusOf(ctl);
    // The store is written after serving (store.ts: marked, served, then stored); a crash before
    // the write lands serves nothing stored, never something older. This test is about the
    // stored case, so it waits for the write before killing.
    await waitFor(async () => {
      const head = await readFile(path.join(store, 'current.bundle'), 'utf8').catch(() => '');
      return head.slice(0, head.indexOf('\n')).includes(served.current?.digest ?? '-') ? true : null;
    }, 20_000, 'the served bundle to be stored', ctl);
    await ctl.kill('SIGKILL');
    // A commit lands while the controller is down: after the restart the stored bundle must be
    // served first, then the new commit.
    const next = await commit(repo, mesh([10, 90], 'after-restart'), 'while down');
    ctl = await startController(['--repo', repo, '--store', store, '--poll', '10s']);
    const storedLine = ctl.logs.findIndex((l) => l.msg === 'serving stored bundle');
    const listenLine = ctl.logs.findIndex((l) => l.msg === 'listening');
    assert.ok(storedLine >= 0 && storedLine < listenLine, 'stored bundle loaded before listening');
    const r = await getBundle(ctl.url);
    assert.equal(r.status, 200);
    const compiledYet = ctl.logs.some((l) => l.msg === 'compiled');
    if (!compiledYet) assert.equal(r.etag, served.current?.digest, 'the stored bundle, served before the first compile');
    const s = await waitCompiled(ctl, next);
    assert.equal(s.current?.commit?.commit, next);
  });
});

describe('weft controller on a remote repository (--path), with the push webhook', { timeout: 120_000 }, () => {
  let dir: string;
  let work: string;
  let origin: string;
  let ctl: ControllerProc;
  const secret = 'correct horse battery staple';

  before(async () => {
    dir = await tmpDir('hook');
    work = path.join(dir, 'work');
    origin = path.join(dir, 'origin.git');
    // The policies live in mesh/; a broken file outside it proves --path is honoured.
    await initRepo(work, { ...inMesh(mesh([100, 0])), 'other/broken.yaml': BAD_ROUTE });
    await git(dir, 'clone', '-q', '--bare', work, origin);
    await git(work, 'remote', 'add', 'origin', origin);
    // --poll 1h: only the webhook can make it fetch within the test.
    ctl = await startController(['--repo', `file://${origin}`, '--branch', 'main', '--path', 'mesh', '--store', path.join(dir, 'store'), '--poll', '1h', '--webhook-secret', secret]);
  });

  after(async () => {
    await killAll();
    await removeTmp(dir);
  });

  it('fetches on a correctly signed push event and refuses a bad signature with 401', async () => {
    const head = await git(work, 'rev-parse', 'HEAD');
    await waitCompiled(ctl, head);
    const sha = await commit(work, inMesh(mesh([0, 100])), 'pushed change');
    await git(work, 'push', '-q', 'origin', 'main');
    const body = JSON.stringify({ ref: 'refs/heads/main', after: sha, repository: { full_name: 'acme/mesh' } });
    const post = (sig: string | null, b = body): Promise<number> =>
      request(`${ctl.url}/v1/hooks/git`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-github-event': 'push', ...(sig ? { 'x-hub-signature-256': sig } : {}) },
        body: b,
      }).then(async (r) => {
        await r.body.dump();
        return r.statusCode;
      });
    assert.equal(await post(hubSignature('wrong secret', body)), 401);
    assert.equal(await post(null), 401);
    assert.equal(await post(hubSignature(secret, body), body.replace('main', 'mainx')), 401, 'signature over different bytes');
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await statusOf(ctl)).current?.commit?.commit, head, 'nothing fetched after refused hooks');
    assert.equal(await post(hubSignature(secret, body)), 202);
    const s = await waitCompiled(ctl, sha, 20_000);
    assert.equal(s.current?.commit?.commit, sha);
    assert.equal(s.lastCompile?.ok, true);
    const bundle = (await (await request(`${ctl.url}/v1/bundle`)).body.json()) as Bundle;
    assert.equal(bundle.revision?.path, 'mesh');
    assert.match(await metricsText(ctl.url), /weft_controller_webhooks_total\{result="unauthorized"\} 3/);
  });
});

describe('signing, keygen and usage errors', { timeout: 120_000 }, () => {
  let dir: string;

  before(async () => {
    dir = await tmpDir('sign');
  });

  after(async () => {
    await killAll();
    await removeTmp(dir);
  });

  it('weft keygen writes a key pair; the controller signs bundles with it', async () => {
    const kg = spawnWeft(['keygen', '--out-dir', path.join(dir, 'keys')]);
    assert.equal(await kg.exited, 0);
    const keyId = /key id:\s+([0-9a-f]{16})/.exec(kg.stdout.join(''))?.[1];
    assert.ok(keyId);
    const priv = path.join(dir, 'keys', 'weft-signing.key');
    assert.equal((await stat(priv)).mode & 0o777, 0o600);
    const again = spawnWeft(['keygen', '--out-dir', path.join(dir, 'keys')]);
    assert.equal(await again.exited, 2, 'refuses to overwrite');

    const repo = path.join(dir, 'repo');
    const sha = await initRepo(repo, mesh([100, 0]));
    const ctl = await startController(['--repo', repo, '--store', path.join(dir, 'store'), '--sign-key', priv]);
    const s = await waitCompiled(ctl, sha);
    assert.equal(s.current?.signedBy, keyId);
    const bundle = (await (await request(`${ctl.url}/v1/bundle?service=x&proxy=y`)).body.json()) as Bundle;
    assert.equal(bundle.signature?.keyId, keyId);
    const pub = createPublicKey(await readFile(path.join(dir, 'keys', 'weft-signing.pub'), 'utf8'));
    assert.ok(verify(null, signingPayload(bundle, bundle.signature!.issuedAt), pub, Buffer.from(bundle.signature!.value, 'base64')));
    await ctl.kill();
  });

  it('bad flags print one line and exit 2', async () => {
    for (const args of [
      ['controller'],
      ['controller', '--repo', path.join(dir, 'nope'), '--listen', '127.0.0.1:0', '--store', path.join(dir, 's2')],
      ['controller', '--repo', dir, '--poll', 'soon'],
      ['controller', '--repo', dir, '--poll', '1.5s'],
      ['controller', '--repo', dir, '--sign-key', path.join(dir, 'keys', 'weft-signing.pub')],
      ['controller', '--repo', dir, '--bogus'],
      ['status'],
      ['status', '--controller', 'http://127.0.0.1:1'],
    ]) {
      const c = spawnWeft(args);
      const code = await c.exited;
      const errLines = c.logs.filter((l) => 'raw' in l && l.raw !== '');
      assert.equal(code, 2, `${args.join(' ')} → exit 2`);
      assert.equal(errLines.length, 1, `${args.join(' ')} → one line: ${JSON.stringify(c.logs)}`);
      assert.doesNotMatch(String(errLines[0]?.raw), /\n\s+at /);
    }
  });
});
