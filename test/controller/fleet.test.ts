/**
 * A fleet of real `weft proxy --controller` processes fed by a real `weft controller` watching
 * a real git repository: commits reach every proxy and traffic follows them; a bad commit
 * changes nothing; bursts end on the newest commit; the controller dies and comes back while
 * proxies keep serving, a proxy restarted meanwhile starts from its cache. Loopback only.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import {
  BAD_ROUTE, callThrough, commit, configOf, echoServer, freePort, initRepo, killAll, meshFiles, removeTmp, sleep,
  spawnWeft, startController, startProxy, statusOf, tmpDir, waitCompiled, waitFor, type ControllerProc, type EchoServer,
  type ProxyProc, type Status,
} from './helpers.js';

const FLEET = 10;

describe('a commit reaches a fleet of proxies', { timeout: 300_000 }, () => {
  let dir: string;
  let repo: string;
  let store: string;
  let port: number;
  let ctl: ControllerProc;
  let v1: EchoServer;
  let v2: EchoServer;
  const proxies: ProxyProc[] = [];
  let mesh: (w: [number, number], marker?: string) => Record<string, string>;

  /** allOn waits until every proxy reports `digest` active to the controller and has it in /config. */
  async function allOn(digest: string, timeoutMs = 60_000): Promise<Status> {
    const s = await waitFor(async () => {
      const st = await statusOf(ctl);
      const mine = st.proxies.filter((p) => proxies.some((x) => p.proxy.endsWith(`:${x.proc.pid}`)));
      return mine.length === proxies.length && mine.every((p) => p.digest === digest && p.state === 'active') ? st : null;
    }, timeoutMs, `all ${proxies.length} proxies on ${digest.slice(0, 15)}`, ctl);
    for (const p of proxies) assert.equal((await configOf(p)).active?.digest, digest, `proxy ${p.proc.pid} /config`);
    return s;
  }

  /** traffic sends `n` requests through every proxy and returns which backend answered each. */
  async function traffic(n = 5): Promise<Record<string, number>> {
    const seen: Record<string, number> = {};
    await Promise.all(proxies.map(async (p) => {
      for (let i = 0; i < n; i++) {
        const r = await callThrough(p.outbound, 'web');
        const name = r.status === 200 ? (JSON.parse(r.body) as { name: string }).name : `status-${r.status}`;
        seen[name] = (seen[name] ?? 0) + 1;
      }
    }));
    return seen;
  }

  before(async () => {
    dir = await tmpDir('fleet');
    repo = path.join(dir, 'repo');
    store = path.join(dir, 'store');
    v1 = await echoServer('web-v1');
    v2 = await echoServer('web-v2');
    mesh = (w, marker) => meshFiles({ v1Port: v1.port, v2Port: v2.port, weights: w, ...(marker ? { marker } : {}) });
    const first = await initRepo(repo, mesh([100, 0]));
    port = await freePort();
    ctl = await startController(['--repo', repo, '--store', store], port);
    await waitCompiled(ctl, first);
    // Started two at a time: ten node processes at once would swamp a small machine.
    for (let i = 0; i < FLEET; i += 2) {
      proxies.push(...(await Promise.all([0, 1].map((k) => startProxy(ctl.url, 'web', path.join(dir, `cache-${i + k}`))))));
    }
  });

  after(async () => {
    await killAll();
    await Promise.all([v1?.close(), v2?.close()]);
    await removeTmp(dir);
  });

  it('every proxy reports the head digest active, and traffic follows the routes', async () => {
    const st = await statusOf(ctl);
    await allOn(st.current!.digest);
    assert.deepEqual(await traffic(), { 'web-v1': FLEET * 5 });
  });

  it('a new commit reaches all proxies, and traffic moves to the new backend', async () => {
    const sha = await commit(repo, mesh([0, 100]), 'move web to v2');
    const t0 = Date.now();
    const st = await waitCompiled(ctl, sha);
    await allOn(st.current!.digest);
    console.log(`# commit to ${FLEET} proxies active: ${Date.now() - t0} ms`);
    assert.deepEqual(await traffic(), { 'web-v2': FLEET * 5 });
    const status = spawnWeft(['status', '--controller', ctl.url]);
    assert.equal(await status.exited, 0, status.stdout.join(''));
    assert.match(status.stdout.join(''), new RegExp(`${FLEET} live, ${FLEET} current, 0 stale`));
  });

  it('a bad commit leaves every proxy on the previous digest, serving; the next good commit propagates', async () => {
    const good = (await statusOf(ctl)).current!.digest;
    const bad = await commit(repo, { 'routes/broken.yaml': BAD_ROUTE }, 'broken route');
    const st = await waitCompiled(ctl, bad);
    assert.equal(st.lastCompile?.ok, false);
    assert.ok(st.lastCompile?.diagnostics.some((d) => d.code === 'WFT403' && d.file === 'routes/broken.yaml'));
    await sleep(500);
    await allOn(good);
    assert.deepEqual(await traffic(), { 'web-v2': FLEET * 5 });
    const fixed = await commit(repo, { 'routes/broken.yaml': null, ...mesh([100, 0], 'fixed') }, 'fix the route');
    const st2 = await waitCompiled(ctl, fixed);
    assert.notEqual(st2.current!.digest, good);
    await allOn(st2.current!.digest);
    assert.deepEqual(await traffic(), { 'web-v1': FLEET * 5 });
  });

  it('ten commits in a burst end with every proxy on the newest digest', async () => {
    let last = '';
    for (let i = 0; i < 10; i++) last = await commit(repo, mesh(i % 2 === 0 ? [0, 100] : [100, 0], `burst-${i}`), `burst ${i}`);
    const st = await waitFor(async () => {
      const s = await statusOf(ctl);
      return s.current?.commit?.commit === last ? s : null;
    }, 60_000, 'newest commit served', ctl);
    await allOn(st.current!.digest);
    // The last commit (i = 9) sends everything to v1.
    assert.deepEqual(await traffic(), { 'web-v1': FLEET * 5 });
  });

  it('controller down: proxies keep serving; a restarted proxy serves from its cache; the restarted controller serves the stored bundle', async () => {
    const digest = (await statusOf(ctl)).current!.digest;
    await ctl.kill('SIGKILL');
    assert.deepEqual(await traffic(2), { 'web-v1': FLEET * 2 }, 'traffic flows with the controller down');

    const victim = proxies.shift()!;
    const cache = path.join(dir, 'cache-0');
    await victim.kill('SIGTERM');
    const reborn = await startProxy(ctl.url, 'web', cache);
    proxies.unshift(reborn);
    assert.equal((await configOf(reborn)).active?.digest, digest, 'restarted proxy serves its cached bundle');
    const r = await callThrough(reborn.outbound, 'web');
    assert.equal(r.status, 200);
    assert.equal((JSON.parse(r.body) as { name: string }).name, 'web-v1');

    // A commit lands while the controller is down.
    const sha = await commit(repo, mesh([0, 100], 'while-down'), 'while the controller is down');
    ctl = await startController(['--repo', repo, '--store', store], port);
    assert.ok(ctl.logs.some((l) => l.msg === 'serving stored bundle' && l.digest === digest), 'stored bundle loaded before listening');
    const st = await waitCompiled(ctl, sha);
    await allOn(st.current!.digest);
    assert.deepEqual(await traffic(), { 'web-v2': FLEET * 5 });
  });
});
