/**
 * No rollback of signed bundles, through a real `weft proxy` process: yesterday's bundle, signed
 * by the trusted key, replayed from the bundle file is refused (WEFT_BUNDLE_ROLLBACK in /config
 * and metrics) while requests keep flowing on today's; a revert (same content, issued later) is
 * accepted; and a restart with the same --cache-dir still refuses the old one.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Bundle } from '../../schemas/bundle.js';
import { bundle, service, spec } from '../helpers/bundle-builder.js';
import { agent, call, getJson, getText, spawnProxy, startEcho, tempDir, waitFor, waitForDigest, writeAtomic, type Echo, type ProxyProcess } from '../helpers/proxy-harness.js';

const keys = generateKeyPairSync('ed25519');

function signed(gen: string, up: Echo, issuedAt: Date): Bundle {
  return bundle(
    spec([
      service('up', { endpoints: [`127.0.0.1:${up.port}`] }),
      service('web', {
        producer: [{ matches: [{ path: { type: 'PathPrefix', value: '/' } }], filters: [{ type: 'ResponseHeaderModifier', modifier: { set: [{ name: 'x-gen', value: gen }], add: [], remove: [] } }], backends: [{ service: 'up' }] }],
      }),
    ]),
    { key: keys.privateKey, publicKey: keys.publicKey, issuedAt: issuedAt.toISOString() },
  );
}

interface Config {
  active: { digest: string; issuedAt: string | null } | null;
  issuedAtFloor: string | null;
  lastRejection: { code: string; digest: string | null; reason: string } | null;
}

describe('no rollback by replaying an older signed bundle', () => {
  let up: Echo;
  let dir: string;
  let cache: string;
  const procs: ProxyProcess[] = [];
  before(async () => {
    up = await startEcho('up');
    dir = tempDir();
    cache = tempDir();
    writeFileSync(path.join(dir, 'trust.pub'), keys.publicKey.export({ type: 'spki', format: 'pem' }));
  });
  after(async () => {
    for (const p of procs) await p.stop();
    await up.close();
    await agent.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(cache, { recursive: true, force: true });
  });

  it('refuses the replay, keeps serving, accepts a revert, and remembers across a restart', async () => {
    const file = path.join(dir, 'bundle.json');
    const now = Date.now();
    const yesterday = signed('old', up, new Date(now - 24 * 3600_000));
    const today = signed('new', up, new Date(now));
    writeAtomic(file, JSON.stringify(today));
    const args = ['--service', 'client', '--bundle', file, '--trust-key', path.join(dir, 'trust.pub'), '--cache-dir', cache];
    const p = await spawnProxy(args);
    procs.push(p);
    await waitForDigest(p.admin, today.digest);

    // Traffic flows throughout; every answer must come from today's table.
    const seen: string[] = [];
    let running = true;
    const worker = async (): Promise<void> => {
      while (running) {
        const r = await call(p.outbound, 'web', '/x').catch((err: Error) => ({ status: 0, headers: {} as Record<string, unknown>, text: err.message }));
        seen.push(r.status === 200 ? String(r.headers['x-gen']) : `${r.status} ${r.text}`);
      }
    };
    const workers = Array.from({ length: 4 }, () => worker());
    writeAtomic(file, JSON.stringify(yesterday));
    let cfg: Config | null = null;
    await waitFor(async () => (cfg = await getJson<Config>(p.admin, '/config')).lastRejection !== null, 10_000, 'the rejection');
    const countAtRejection = seen.length;
    await waitFor(() => seen.length >= countAtRejection + 50, 10_000, 'traffic after the rejection');
    running = false;
    await Promise.all(workers);
    assert.equal(cfg!.lastRejection?.code, 'WEFT_BUNDLE_ROLLBACK');
    assert.equal(cfg!.lastRejection?.digest, yesterday.digest);
    assert.equal(cfg!.active?.digest, today.digest);
    assert.equal(cfg!.issuedAtFloor, today.signature!.issuedAt);
    assert.deepEqual([...new Set(seen)], ['new'], 'every request answered 200 by the active (newer) bundle');
    const metrics = await getText(p.admin, '/metrics');
    assert.match(metrics, /weft_bundle_rejections_total\{code="WEFT_BUNDLE_ROLLBACK"\} 1/);

    // A revert commit is a new bundle: the old content, issued later, is accepted.
    const revert = signed('old', up, new Date(now + 1000));
    assert.equal(revert.digest, yesterday.digest);
    writeAtomic(file, JSON.stringify(revert));
    await waitForDigest(p.admin, revert.digest);
    assert.equal((await call(p.outbound, 'web', '/x')).headers['x-gen'], 'old');
    // The cache is written just after the swap; stop only once it holds the revert.
    await waitFor(() => readFileSync(path.join(cache, 'bundle.json'), 'utf8').includes(revert.digest), 10_000, 'the cache');
    await p.stop();

    // Restart with the same cache: a replay of `today` (now older than the revert) is refused
    // from the first offer, and the proxy starts from its cache instead.
    writeAtomic(file, JSON.stringify(today));
    const q = await spawnProxy(args);
    procs.push(q);
    await waitForDigest(q.admin, revert.digest);
    const after = await getJson<Config>(q.admin, '/config');
    assert.equal(after.lastRejection?.code, 'WEFT_BUNDLE_ROLLBACK');
    assert.equal(after.active?.digest, revert.digest);
    assert.equal(after.active?.issuedAt, revert.signature!.issuedAt);
  });

  it('without --trust-key an unverified issue time sets no floor: a bundle claiming 2099 locks nothing out', async () => {
    // Nothing checks the signature without a trust key, so its issuedAt is anyone's claim; taken
    // as the floor, it would refuse every later bundle, and keep refusing across restarts.
    const file = path.join(dir, 'unverified.json');
    const own = tempDir();
    const claimed = signed('new', up, new Date());
    claimed.signature = { ...claimed.signature!, issuedAt: '2099-01-01T00:00:00.000Z' };
    writeAtomic(file, JSON.stringify(claimed));
    const p = await spawnProxy(['--service', 'client', '--bundle', file, '--cache-dir', own]);
    procs.push(p);
    await waitForDigest(p.admin, claimed.digest);
    const cfg = await getJson<Config & { active: { signatureVerified: boolean } }>(p.admin, '/config');
    assert.equal(cfg.issuedAtFloor, null);
    assert.equal(cfg.active.signatureVerified, false);
    const later = signed('old', up, new Date());
    writeAtomic(file, JSON.stringify(later));
    await waitForDigest(p.admin, later.digest);
    assert.equal((await getJson<Config>(p.admin, '/config')).lastRejection, null);
    assert.equal(existsSync(path.join(own, 'issued-at.json')), false, 'no floor written');
    // The proxy writes its cache into `own` after each swap: stop it before removing the folder.
    await p.stop();
    rmSync(own, { recursive: true, force: true });
  });
});
