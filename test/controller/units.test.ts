/** Unit tests of the controller's small parts: long-poll hub, fleet, webhook, store, parsers. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { LongPollHub } from '../../runtime/controller/long-poll.js';
import { Fleet, type PropagationDone } from '../../runtime/controller/fleet.js';
import { hubSignature, parsePushEvent, verifyHubSignature } from '../../runtime/controller/webhook.js';
import { parseEtags, parsePreferWait } from '../../runtime/controller/http.js';
import { isRemoteRepo, normaliseSubPath } from '../../runtime/controller/repository.js';
import { redactUrl } from '../../runtime/controller/git.js';
import { BundleStore } from '../../runtime/controller/store.js';
import { digestOf } from '../../schemas/canonical.js';
import { removeTmp, sleep, tmpDir } from './helpers.js';

describe('LongPollHub', () => {
  it('wakes every waiter once, expires the rest no earlier than asked, and forgets closed ones', async () => {
    const hub = new LongPollHub<number>(50);
    const settled: string[] = [];
    const t0 = Date.now();
    let expiredAt = 0;
    for (let i = 0; i < 1000; i++) hub.hold({ value: i, settle: (how) => settled.push(`${i}:${how}`) }, 60_000);
    hub.hold({ value: -1, settle: (how) => { settled.push(`short:${how}`); expiredAt = Date.now(); } }, 120);
    const drop = hub.hold({ value: -2, settle: (how) => settled.push(`gone:${how}`) }, 60_000);
    drop();
    assert.equal(hub.size, 1001);
    await sleep(300);
    assert.ok(settled.includes('short:expired'));
    assert.ok(expiredAt - t0 >= 120, 'never early');
    assert.equal(hub.wake(), 1000);
    assert.equal(hub.size, 0);
    assert.equal(settled.filter((s) => s.endsWith(':woken')).length, 1000);
    assert.equal(hub.wake(), 0, 'a second wake finds nobody');
    assert.deepEqual(settled.filter((s) => s.startsWith('gone')), ['gone:closed']);
    hub.close();
  });
});

describe('Fleet', () => {
  it('times propagation until every live proxy reports the digest active', () => {
    const done: PropagationDone[] = [];
    const fleet = new Fleet(10_000, 60_000, (d) => done.push(d));
    const now = Date.now();
    fleet.seen('a', 'web', 'sha256:old', now);
    fleet.seen('b', 'web', 'sha256:old', now);
    fleet.published('sha256:new', now);
    fleet.report({ proxy: 'a', service: 'web', digest: 'sha256:new', state: 'active', error: null }, now + 10);
    assert.equal(done.length, 0);
    fleet.report({ proxy: 'b', service: 'web', digest: 'sha256:new', state: 'rejected', error: 'X: no' }, now + 20);
    assert.equal(done.length, 0, 'a rejection holds it up');
    const b = fleet.list(now + 20).find((p) => p.proxy === 'b');
    assert.equal(b?.digest, 'sha256:old', 'a rejecting proxy stays on what it had');
    assert.equal(b?.state, 'rejected');
    fleet.report({ proxy: 'b', service: 'web', digest: 'sha256:new', state: 'active', error: null }, now + 30);
    assert.equal(done.length, 1);
    assert.equal(done[0]?.proxies, 2);
    assert.ok(Math.abs((done[0]?.seconds ?? 0) - 0.03) < 0.001);
    assert.equal(fleet.list(now + 120_000).length, 0, 'forgotten after forgetAfterMs');
  });
});

describe('webhook', () => {
  it('verifies X-Hub-Signature-256 in constant time and reads push events', () => {
    const body = Buffer.from('{"ref":"refs/heads/main","after":"abc"}');
    assert.ok(verifyHubSignature('s', body, hubSignature('s', body)));
    assert.ok(!verifyHubSignature('s', body, hubSignature('t', body)));
    assert.ok(!verifyHubSignature('s', body, undefined));
    assert.ok(!verifyHubSignature('s', body, 'sha256=abc'));
    assert.ok(!verifyHubSignature('s', body, 'sha1=' + 'a'.repeat(40)));
    assert.deepEqual(parsePushEvent(body, 'application/json'), { ref: 'refs/heads/main', after: 'abc' });
    const form = Buffer.from(`payload=${encodeURIComponent(body.toString())}`);
    assert.deepEqual(parsePushEvent(form, 'application/x-www-form-urlencoded'), { ref: 'refs/heads/main', after: 'abc' });
    assert.equal(parsePushEvent(Buffer.from('{"zen":"hi"}'), 'application/json'), null);
    assert.equal(parsePushEvent(Buffer.from('nope'), 'application/json'), null);
  });
});

describe('parsers', () => {
  it('read headers and repository kinds', () => {
    assert.deepEqual(parseEtags('"sha256:a", W/"b"'), ['sha256:a', 'b']);
    assert.deepEqual(parseEtags(undefined), []);
    assert.equal(parsePreferWait('wait=30'), 30);
    assert.equal(parsePreferWait('respond-async, wait=5'), 5);
    assert.equal(parsePreferWait('handling=lenient'), 0);
    assert.ok(isRemoteRepo('https://github.com/acme/mesh.git'));
    assert.ok(isRemoteRepo('git@github.com:acme/mesh.git'));
    assert.ok(isRemoteRepo('file:///srv/mesh.git'));
    assert.ok(!isRemoteRepo('/srv/mesh'));
    assert.ok(!isRemoteRepo('./mesh'));
    assert.equal(normaliseSubPath('/mesh/prod/'), 'mesh/prod');
    assert.throws(() => normaliseSubPath('../x'));
    assert.equal(redactUrl('https://user:token@github.com/a/b.git'), 'https://***@github.com/a/b.git');
  });
});

describe('BundleStore', () => {
  it('round-trips the current bundle and refuses a damaged one', async () => {
    const dir = await tmpDir('store');
    try {
      const store = new BundleStore(dir, 2);
      await store.init();
      assert.equal(await store.current(), null);
      const mk = (n: number): { digest: string; bytes: Buffer; bundle: never } => {
        const spec = { n };
        const digest = digestOf(spec);
        const bundle = { apiVersion: 'weft.dev/bundle/v1', digest, revision: null, spec, sources: {} };
        return { digest, bytes: Buffer.from(JSON.stringify(bundle)), bundle: bundle as never };
      };
      for (let i = 0; i < 3; i++) await store.put({ ...mk(i), commit: null, publishedAt: new Date().toISOString() });
      // A bundle that gives its bytes in chunks (as the controller's do) is written from them,
      // each consumed before the next (one 4-byte buffer, reused), and reads back the same.
      const chunked = mk(3);
      const chunks = function* (buf: Buffer): Generator<Buffer> {
        for (let at = 0; at < chunked.bytes.length; at += 4) {
          const n = chunked.bytes.copy(buf, 0, at, Math.min(at + 4, chunked.bytes.length));
          yield buf.subarray(0, n);
        }
      };
      await store.put({ digest: chunked.digest, bundle: chunked.bundle, get bytes(): Buffer { throw new Error('bytes made whole'); }, chunks: () => chunks(Buffer.alloc(4)), commit: null, publishedAt: new Date().toISOString() });
      const cur = await store.current();
      assert.equal(cur?.digest, mk(3).digest);
      assert.deepEqual(cur?.bytes, mk(3).bytes);
      await store.flushed();
      assert.equal((await readdir(path.join(dir, 'bundles'))).length, 2, 'history pruned to `keep`');
      const file = path.join(dir, 'current.bundle');
      const text = await readFile(file, 'utf8');
      await writeFile(file, text.replace('"n":3', '"n":99'));
      assert.equal(await store.current(), null, 'content no longer matches its digest');
    } finally {
      await removeTmp(dir);
    }
  });

  it('answers only the bundle last marked as served: a crash between mark and put leaves nothing older to serve', async () => {
    const dir = await tmpDir('store-mark');
    try {
      const store = new BundleStore(dir, 5);
      await store.init();
      const mk = (n: number): { digest: string; bytes: Buffer; bundle: never; commit: null; publishedAt: string } => {
        const spec = { n };
        const digest = digestOf(spec);
        const bundle = { apiVersion: 'weft.dev/bundle/v1', digest, revision: null, spec, sources: {} };
        return { digest, bytes: Buffer.from(JSON.stringify(bundle)), bundle: bundle as never, commit: null, publishedAt: new Date().toISOString() };
      };
      // A store written before marks existed (no serving.json) is served as it is.
      await store.put(mk(1));
      assert.equal((await store.current())?.digest, mk(1).digest);
      await store.mark(mk(1).digest);
      assert.equal((await store.current())?.digest, mk(1).digest);
      // Marked and served, not yet stored (the controller crashed here): the older bundle is not answered.
      await store.mark(mk(2).digest);
      assert.equal(await store.current(), null);
      // Reopened, as a restarted controller does: still nothing older to serve.
      const reopened = new BundleStore(dir, 5);
      await reopened.init();
      assert.equal(await reopened.current(), null);
      await reopened.put(mk(2));
      assert.equal((await reopened.current())?.digest, mk(2).digest);
      await reopened.flushed();
    } finally {
      await removeTmp(dir);
    }
  });
});

describe('Fleet bounds (per identity and in total)', () => {
  const peer = (svc: string): { uri: string; notAfter: Date } => ({ uri: `spiffe://weft.local/ns/default/sa/${svc}`, notAfter: new Date(Date.now() + 3600_000) });

  it('keeps at most perIdentity rows per identity, dropping the least recently heard of', () => {
    const f = new Fleet(10_000, 60_000, () => undefined, { perIdentity: 3, total: 100 });
    for (let i = 0; i < 5; i++) assert.equal(f.seen(`web-${i}`, 'default/web', null, 1000 + i, peer('web')), true);
    assert.deepEqual(f.list(2000).map((p) => p.proxy), ['web-2', 'web-3', 'web-4']);
    // Another identity's rows are untouched by web's churn, and ids do not collide across identities.
    assert.equal(f.report({ proxy: 'web-4', service: 'default/api', digest: 'd', state: 'active', error: null }, 2001, peer('api')), true);
    const rows = f.list(2002);
    assert.equal(rows.length, 4);
    assert.equal(rows.find((r) => r.identity?.endsWith('/sa/web') && r.proxy === 'web-4')?.state, 'pending');
  });

  it('refuses a new row when the table is full, after forgetting stale rows', () => {
    const f = new Fleet(10_000, 60_000, () => undefined, { perIdentity: 100, total: 2 });
    assert.equal(f.seen('a', 'default/a', null, 0, peer('a')), true);
    assert.equal(f.seen('b', 'default/b', null, 50_000, peer('b')), true);
    assert.equal(f.seen('c', 'default/c', null, 50_001, peer('c')), false);
    assert.equal(f.report({ proxy: 'c', service: 'default/c', digest: null, state: 'rejected', error: 'x' }, 50_002, peer('c')), false);
    // Known rows still update; once `a` is past forgetAfterMs a new one fits.
    assert.equal(f.seen('b', 'default/b', null, 50_003, peer('b')), true);
    assert.equal(f.seen('c', 'default/c', null, 70_000, peer('c')), true);
    assert.deepEqual(f.list(70_000).map((p) => p.proxy), ['b', 'c']);
  });
});
