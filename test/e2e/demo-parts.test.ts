/**
 * The pieces of `weft up` that need no mesh: seeding (copy, port moves, git), the lock (held,
 * stale), the demo apps, the traffic store behind /v1/traffic, and the terminal view.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, mkdir, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { request } from 'undici';
import { seedRepository } from '../../runtime/demo/seed.js';
import { declaredEndpoints } from '../../runtime/demo/service-endpoints.js';
import { acquireLock, LockHeld } from '../../runtime/demo/lock.js';
import { startApp } from '../../runtime/demo/apps.js';
import { freePort } from '../../runtime/demo/ports.js';
import { reviewsInstanceOf } from '../../runtime/demo/loadgen.js';
import { summarize, TrafficWindow } from '../../runtime/demo/traffic.js';
import { convergence, renderBlock, renderLine } from '../../runtime/demo/view.js';
import { MAX_SAMPLES, parseTrafficPost, TrafficStore } from '../../runtime/controller/dashboard/traffic-store.js';
import { ROOT, removeDir, within } from './helpers.js';

const SERVICE = (name: string, port: number): string => `# ${name}: a comment that must survive
apiVersion: weft.dev/v1alpha1
kind: Service
metadata:
  name: ${name}
spec:
  ports:
    - name: http
      port: 9080
  endpoints:
    - { address: 127.0.0.1, port: ${port}, labels: { version: v1 } }
`;

test('seed: copies the policies (no endpoint addresses: every instance registers), commits, then reuses', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'weft-seed-'));
  try {
    const repo = path.join(dir, '.weft', 'demo');
    const first = await seedRepository({ policies: path.join(ROOT, 'policies'), repo, pickPorts: true });
    assert.equal(first.created, true);
    assert.equal(first.branch, 'main');
    assert.deepEqual(await declaredEndpoints(repo), [], 'the example mesh lists no endpoint addresses: its proxies register');
    assert.deepEqual(first.moved, [], 'nothing to move');
    const reviews = await readFile(path.join(repo, 'services', 'reviews.yaml'), 'utf8');
    assert.match(reviews, /port: 9080/, 'Service ports are untouched');
    assert.match(reviews, /^# `reviews` is the name callers use/m, 'comments are kept');
    const log = execFileSync('git', ['-C', repo, 'log', '--format=%s%n%b'], { encoding: 'utf8' });
    assert.match(log, /Seed the demo mesh from policies/);
    assert.doesNotMatch(log, /moved off busy ports/);
    assert.equal(execFileSync('git', ['-C', repo, 'status', '--porcelain'], { encoding: 'utf8' }), '', 'everything committed');
    const again = await seedRepository({ policies: path.join(ROOT, 'policies'), repo, pickPorts: true });
    assert.deepEqual({ created: again.created, moved: again.moved }, { created: false, moved: [] }, 'reused as it is');
  } finally {
    await removeDir(dir);
  }
});

const CUE_SERVICE = (name: string, port: number): string => `// ${name}, written in CUE
resources: [{
	apiVersion: "weft.dev/v1alpha1"
	kind:       "Service"
	metadata: name: "${name}"
	spec: {
		ports: [{name: "http", port: 9080}]
		endpoints: [{address: "127.0.0.1", port: ${port}}]
	}
}]
`;

test('seed: only busy endpoint ports move, CUE Services too; a non-repository directory is refused', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'weft-seed-'));
  const busy = net.createServer();
  try {
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const busyPort = (busy.address() as net.AddressInfo).port;
    const freeOne = await freePort();
    const policies = path.join(dir, 'p');
    await mkdir(policies);
    await writeFile(path.join(policies, 'a.yaml'), SERVICE('a', busyPort));
    await writeFile(path.join(policies, 'b.yaml'), SERVICE('b', freeOne));
    await writeFile(path.join(policies, 'c.cue'), CUE_SERVICE('c', busyPort));
    const res = await seedRepository({ policies, repo: path.join(dir, 'demo') });
    assert.equal(res.moved.length, 1);
    assert.equal(res.moved[0]?.from, busyPort);
    const eps = await declaredEndpoints(path.join(dir, 'demo'));
    assert.equal(eps.find((e) => e.service === 'b')?.port, freeOne, 'a free port stays');
    assert.equal(eps.find((e) => e.service === 'a')?.port, res.moved[0]?.to);
    assert.deepEqual(eps.find((e) => e.service === 'c'), { service: 'c', address: '127.0.0.1', port: res.moved[0]?.to, file: 'c.cue' }, 'the CUE Service is read and moved too');
    assert.match(await readFile(path.join(dir, 'demo', 'a.yaml'), 'utf8'), /^# a: a comment that must survive/);

    await mkdir(path.join(dir, 'occupied'));
    await writeFile(path.join(dir, 'occupied', 'x.txt'), 'mine');
    await assert.rejects(seedRepository({ policies, repo: path.join(dir, 'occupied') }), /not a git repository/);
  } finally {
    busy.close();
    await removeDir(dir);
  }
});

test('lock: a live holder is reported; a stale lock is cleaned up', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'weft-lock-'));
  // A live process whose command line says weft, standing in for another `weft up`.
  const other = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', 'weft-up-stand-in'], { stdio: 'ignore' });
  let orphan: ChildProcess | null = null;
  try {
    const file = path.join(dir, 'up.lock');
    await writeFile(file, JSON.stringify({ pid: other.pid, startedAt: new Date().toISOString(), dashboard: 'http://127.0.0.1:1/' }));
    await assert.rejects(acquireLock(file), (err: unknown) => err instanceof LockHeld && /already running.*http:\/\/127\.0\.0\.1:1\//.test(err.message));

    // The holder dies (SIGKILL: no clean-up), leaving a child behind that its lock lists.
    orphan = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', 'weft-proxy-stand-in'], { stdio: 'ignore' });
    const o = orphan;
    await writeFile(file, JSON.stringify({ pid: other.pid, startedAt: new Date().toISOString(), children: [{ name: 'proxy', pid: orphan.pid }] }));
    other.kill('SIGKILL');
    await within(new Promise((r) => other.once('exit', r)), 10_000, 'the killed stand-in to exit');
    let stale: { pid: number; stopped: number[] } | null = null;
    const orphanExit = new Promise((r) => o.once('exit', r));
    const lock = await acquireLock(file, (s) => (stale = { pid: s.state.pid, stopped: s.stopped }));
    assert.deepEqual(stale, { pid: other.pid, stopped: [o.pid] }, 'stale lock noticed, leftover child stopped');
    await within(orphanExit, 10_000, 'the leftover child to stop');
    const mine = JSON.parse(await readFile(file, 'utf8')) as { pid: number };
    assert.equal(mine.pid, process.pid);
    await lock.update({ ready: true });
    await lock.release();
    await assert.rejects(readFile(file), /ENOENT/);
  } finally {
    other.kill('SIGKILL');
    orphan?.kill('SIGKILL');
    await removeDir(dir);
  }
});

test('apps: answer with name and version; a failing downstream call is a 502', async () => {
  const ratingsPort = await freePort();
  const ratings = await startApp({ instance: 'ratings', service: 'ratings', version: 'v1', port: ratingsPort, calls: [] });
  // reviews-v2's "sidecar" is ratings itself here: the app only needs something at its outbound address.
  const reviews = await startApp({ instance: 'reviews-v2', service: 'reviews', version: 'v2', port: await freePort(), outbound: `127.0.0.1:${ratingsPort}`, calls: [{ service: 'ratings', path: '/ratings/1' }] });
  const broken = await startApp({ instance: 'productpage', service: 'productpage', version: 'v1', port: await freePort(), outbound: `127.0.0.1:${await freePort()}`, calls: [{ service: 'reviews', path: '/reviews/1' }] });
  try {
    const get = async (server: typeof ratings): Promise<{ status: number; body: Record<string, unknown> }> => {
      const res = await request(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}/x/1`);
      return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
    };
    const r = await get(reviews);
    assert.equal(r.status, 200);
    assert.deepEqual([r.body.service, r.body.version, r.body.instance], ['reviews', 'v2', 'reviews-v2']);
    assert.equal((r.body.ratings as { stars: number }).stars, 2);
    const b = await get(broken);
    assert.equal(b.status, 502);
    assert.match(String(b.body.error), /reviews answered no response/);
  } finally {
    for (const s of [ratings, reviews, broken]) {
      s.closeAllConnections();
      s.close();
    }
  }
});

test('traffic: window, summary, instance of an answer', () => {
  const w = new TrafficWindow(3);
  for (let s = 0; s < 5; s++) for (let i = 0; i < 4; i++) w.record(s * 1000 + i, i !== 3, i === 3 ? null : i < 2 ? 'reviews-v1' : 'reviews-v2');
  const done = w.complete(4500);
  assert.deepEqual(done.map((s) => s.t), [2000, 3000], 'capacity kept, the current second left out');
  const sum = summarize(done);
  assert.equal(sum.requests, 8);
  assert.equal(sum.errors, 2);
  assert.equal(sum.rate, 4);
  assert.ok(Math.abs((sum.shares['reviews-v1'] ?? 0) - 2 / 3) < 1e-9);
  assert.equal(reviewsInstanceOf({ reviews: { instance: 'reviews-v3' } }), 'reviews-v3');
  assert.equal(reviewsInstanceOf({ error: 'x' }), null);
});

test('traffic store: validates posts, replaces a repeated second, stays bounded', () => {
  assert.equal(parseTrafficPost({ samples: [{ t: -1, requests: 1, errors: 0, backends: {} }] }), null);
  assert.equal(parseTrafficPost({ samples: [{ t: 1, requests: 1.5, errors: 0, backends: {} }] }), null);
  assert.equal(parseTrafficPost({ samples: [{ t: 1, requests: 1, errors: 0, backends: { a: 'x' } }] }), null);
  assert.equal(parseTrafficPost({ samples: 'no' }), null);
  const big = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`b${i}`, 1]));
  assert.equal(parseTrafficPost({ samples: [{ t: 1, requests: 1, errors: 0, backends: big }] }), null);
  const store = new TrafficStore();
  const t0 = 1_764_109_000_000;
  const ok = parseTrafficPost({ source: 'weft-up', samples: [{ t: t0, requests: 3, errors: 0, backends: { 'reviews-v1': 3 } }] });
  assert.ok(ok);
  store.add(ok.source, ok.samples);
  store.add('weft-up', [{ t: t0, requests: 5, errors: 1, backends: { 'reviews-v1': 4 } }]);
  assert.deepEqual(store.document().samples, [{ t: t0, requests: 5, errors: 1, backends: { 'reviews-v1': 4 } }]);
  for (let i = 1; i <= MAX_SAMPLES + 20; i++) store.add('weft-up', [{ t: t0 + i * 1000, requests: 1, errors: 0, backends: {} }]);
  const doc = store.document();
  assert.equal(doc.samples.length, MAX_SAMPLES);
  assert.equal(doc.samples.at(-1)?.t, t0 + (MAX_SAMPLES + 20) * 1000, 'the newest are kept');
});

test('view: convergence and both renderings', () => {
  const d = 'sha256:' + 'a'.repeat(64);
  const e = 'sha256:' + 'b'.repeat(64);
  const controller = { up: true, digest: d, commit: 'c'.repeat(40), lastCompile: { commit: 'f'.repeat(40), message: 'break it', ok: false, firstError: 'routes/reviews.yaml:33 WFT403 nope', errors: 1 } };
  const proxies = [
    { name: 'a', digest: d, up: true, lastRejection: null },
    { name: 'b', digest: e, up: true, lastRejection: null },
  ];
  assert.deepEqual(convergence({ controller, proxies }), { converged: false, onCurrent: 1, total: 2 });
  const traffic = summarize([{ t: 0, requests: 10, errors: 0, backends: { 'reviews-v1': 9, 'reviews-v2': 1 } }]);
  const block = renderBlock({ traffic, proxies, controller, lastError: null }, false).join('\n');
  assert.match(block, /reviews-v1 +█+░+ +90%/);
  assert.match(block, /1\/2 on sha256:aaaaaaaaaaaa +converging: b sha256:bbbbbbbbbbbb/);
  assert.match(block, /REJECTED routes\/reviews\.yaml:33 WFT403/);
  // A second reviews-v2 instance (weft up --instance) gets a row of its own, after the versions.
  const spread = summarize([{ t: 0, requests: 10, errors: 0, backends: { 'reviews-v1': 5, 'reviews-v2': 3, 'reviews-v2#2': 2 } }]);
  const rows = renderBlock({ traffic: spread, proxies, controller, lastError: null }, false).filter((l) => l.startsWith('reviews-'));
  assert.deepEqual(rows.map((l) => l.split(' ')[0]), ['reviews-v1', 'reviews-v2', 'reviews-v3', 'reviews-v2#2']);
  assert.match(rows[3] ?? '', /^reviews-v2#2 █+░+ +20%/);
  const line = renderLine({ traffic, proxies: proxies.slice(0, 1), controller, lastError: null }, new Date(0));
  assert.match(line, /rps=10\.0 errors=0 reviews-v1=90% reviews-v2=10% reviews-v3=0% digest=sha256:aaaaaaaaaaaa proxies=1\/1 converged commit=fffffff rejected/);
});
