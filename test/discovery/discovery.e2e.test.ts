/**
 * Discovery with real processes on loopback (docs/discovery.md): a controller, registering
 * `reviews` instances (app + `weft proxy` each) and a `web` caller proxy under steady traffic.
 * Proves: scaling 1 → 3 → 1 fails nothing and uses every instance; SIGTERM fails nothing;
 * kill -9 leaves by lease expiry with failures bounded by retries and outlier detection;
 * a failing health probe takes an instance out of traffic and back; a controller restart keeps
 * the sets; endpoint churn never changes a bundle digest or reloads a route table; /ready says
 * DRAINING during a drain; a restarted caller routes from its endpoint cache with no controller.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { cp, readFile, rm } from 'node:fs/promises';
import { request } from 'undici';
import { freePort, getJson, killAll, removeTmp, sleep, spawnWeft, tmpDir, waitFor, type ControllerProc } from '../controller/helpers.js';
import {
  closeApps, exitCodeOf, initMeshRepo, readyInstances, startCaller, startInstance, startMeshController, startTraffic, until,
} from './mesh-kit.js';

interface ProxyConfig {
  active: { digest: string } | null;
  endpoints?: Record<string, { endpoints: { address: string; port: number; ready: boolean }[] }>;
}

async function reloadsOf(admin: string): Promise<number> {
  const text = await fetch(`http://${admin}/metrics`).then((r) => r.text());
  return [...text.matchAll(/^weft_bundle_reloads_total\{[^}]*result="active"[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
}

/** callerSees is how many ready `reviews` endpoints the caller proxy routes to now. */
async function callerSees(admin: string): Promise<number> {
  const cfg = await getJson<ProxyConfig>(`http://${admin}/config`);
  return cfg.endpoints?.['default/reviews']?.endpoints.filter((e) => e.ready).length ?? 0;
}

describe('discovery end to end', { timeout: 240_000 }, () => {
  let dir: string;
  let repo: string;
  let ctl: ControllerProc;
  let web: Awaited<ReturnType<typeof startCaller>>;

  before(async () => {
    dir = await tmpDir('discovery-e2e');
    repo = path.join(dir, 'repo');
    await initMeshRepo(repo, { outlier: true });
    ctl = await startMeshController(repo, path.join(dir, 'store'), '3s');
    await startInstance(ctl, 'r1', dir);
    web = await startCaller(ctl, dir);
    await until(async () => (await callerSees(web.admin)) === 1, 30_000, 'the caller routes to r1');
  });

  after(async () => {
    await killAll();
    await closeApps();
    await removeTmp(dir);
  });

  it('scales 1 → 3 → 1 under steady traffic with 0 failed requests, every instance used, no reload', async () => {
    const digest = (await getJson<ProxyConfig>(`http://${web.admin}/config`)).active?.digest;
    const reloads = await reloadsOf(web.admin);
    const traffic = startTraffic(web.outbound);
    try {
      const r2 = await startInstance(ctl, 'r2', dir);
      const r3 = await startInstance(ctl, 'r3', dir);
      await until(async () => (await callerSees(web.admin)) === 3, 30_000, 'the caller routes to 3 instances');
      const seen = new Map<string, number>();
      await until(() => {
        for (const [k, v] of traffic.byInstance) seen.set(k, v);
        return seen.size === 3 && [...seen.values()].every((n) => n >= 20);
      }, 30_000, 'every instance answers');
      // Scale down by SIGTERM: deregister, drain delay, drain, exit 0.
      await Promise.all([r2.proxy.kill('SIGTERM'), r3.proxy.kill('SIGTERM')]);
      assert.equal(await exitCodeOf(r2.proxy, 20_000, 'r2 draining'), 0);
      assert.equal(await exitCodeOf(r3.proxy, 20_000, 'r3 draining'), 0);
      await until(async () => (await callerSees(web.admin)) === 1, 30_000, 'back to one instance');
      const before = traffic.ok;
      await until(() => traffic.ok >= before + 50, 30_000, 'traffic continues on r1');
      await Promise.all([r2.app.close(), r3.app.close()]);
    } finally {
      await traffic.stop();
    }
    assert.equal(traffic.failed, 0, `failed: ${traffic.failures.join(' | ')}`);
    assert.deepEqual([...traffic.byInstance.keys()].sort(), ['r1', 'r2', 'r3']);
    const cfg = await getJson<ProxyConfig>(`http://${web.admin}/config`);
    assert.equal(cfg.active?.digest, digest, 'endpoint churn never changes the bundle digest');
    assert.equal(await reloadsOf(web.admin), reloads, 'endpoint churn never reloads the route table');
  });

  it('SIGTERM of an instance under traffic fails nothing; /ready says DRAINING meanwhile', async () => {
    const r2 = await startInstance(ctl, 'r2b', dir, ['--drain-delay', '4s']);
    await until(async () => (await callerSees(web.admin)) === 2, 30_000, 'two instances');
    const traffic = startTraffic(web.outbound);
    try {
      await until(() => (traffic.byInstance.get('r2b') ?? 0) >= 20, 30_000, 'r2b takes traffic');
      assert.equal((await request(`http://${r2.admin}/ready`, { headersTimeout: 5000, bodyTimeout: 5000 })).statusCode, 200);
      r2.proxy.proc.kill('SIGTERM');
      // Envoy's /ready answers 503 while draining: a load balancer probing it stops sending too.
      const draining = await waitFor(async () => {
        const res = await request(`http://${r2.admin}/ready`, { headersTimeout: 5000, bodyTimeout: 5000 });
        const body = (await res.body.json()) as { ready: boolean; state?: string };
        return res.statusCode === 503 && body.state === 'DRAINING' ? body : null;
      }, 10_000, '/ready to say DRAINING', r2.proxy);
      assert.equal(draining.ready, false);
      assert.equal(await exitCodeOf(r2.proxy, 30_000, 'r2b draining'), 0, 'drained and exited 0');
      const at = traffic.ok;
      await until(() => traffic.ok >= at + 50, 30_000, 'traffic continues');
    } finally {
      await traffic.stop();
      await r2.app.close();
    }
    assert.equal(traffic.failed, 0, `failed: ${traffic.failures.join(' | ')}`);
  });

  it('kill -9: the instance leaves by lease expiry; failures in between are bounded by retries and outlier detection', async () => {
    const victim = await startInstance(ctl, 'victim', dir);
    await until(async () => (await callerSees(web.admin)) === 2, 30_000, 'two instances');
    const traffic = startTraffic(web.outbound);
    let total = 0;
    try {
      await until(() => (traffic.byInstance.get('victim') ?? 0) >= 20, 30_000, 'victim takes traffic');
      traffic.reset();
      victim.proxy.proc.kill('SIGKILL');
      await exitCodeOf(victim.proxy, 10_000, 'the killed victim');
      await until(async () => (await readyInstances(ctl)) === 1, 30_000, 'the lease (3 s) expires');
      await until(async () => (await callerSees(web.admin)) === 1, 30_000, 'the caller drops the victim');
      const at = traffic.ok;
      await until(() => traffic.ok >= at + 50, 30_000, 'traffic continues');
      total = traffic.ok + traffic.failed;
    } finally {
      await traffic.stop();
      await victim.app.close();
    }
    // A connection refused is retried on another endpoint, and one error ejects the dead one
    // (consecutiveErrors: 1), so callers should see (almost) nothing. Measured, printed, bounded.
    process.stdout.write(`# kill -9: ${traffic.failed} failed of ${total} requests until the lease expired\n`);
    assert.ok(traffic.failed <= Math.max(2, total * 0.01), `failed ${traffic.failed} of ${total}: ${traffic.failures.join(' | ')}`);
  });

  it('an instance whose app fails its health probe gets no traffic, stays registered, and recovers', async () => {
    const sick = await startInstance(ctl, 'sick', dir, ['--app-health', '/healthz']);
    await until(async () => (await callerSees(web.admin)) === 2, 30_000, 'two instances');
    const traffic = startTraffic(web.outbound);
    try {
      await until(() => (traffic.byInstance.get('sick') ?? 0) >= 10, 30_000, 'sick takes traffic while healthy');
      sick.app.healthy = false;
      await until(async () => (await callerSees(web.admin)) === 1, 30_000, 'the caller stops routing to it');
      const st = await getJson<{ discovery: { services: { service: string; instances: { instance: string; ready: boolean }[] }[] } }>(`${ctl.url}/v1/status`);
      const row = st.discovery.services.find((s) => s.service === 'default/reviews');
      assert.equal(row?.instances.length, 2, 'still registered');
      assert.equal(row?.instances.filter((i) => !i.ready).length, 1);
      const status = spawnWeft(['status', '--controller', ctl.url]);
      await exitCodeOf(status, 20_000, 'weft status');
      const text = status.stdout.join('');
      assert.match(text, /instances\s+\d+ registered, \d+ ready/);
      assert.match(text, /default\/reviews\s+127\.0\.0\.1:\d+\s+NO\s+\d+\.\ds\s+instance=sick/, 'weft status lists the sick instance as not ready, with its lease age');
      // A request already on its way when the caller learnt may still land: let those finish
      // (each of the 4 workers completes several requests) before counting.
      const settle = traffic.ok;
      await until(() => traffic.ok >= settle + 40, 30_000, 'requests in flight at the readiness change to finish');
      const hits = sick.app.hits;
      const at = traffic.ok;
      await until(() => traffic.ok >= at + 100, 30_000, 'traffic while sick');
      assert.equal(sick.app.hits, hits, 'no traffic while not ready');
      sick.app.healthy = true;
      await until(async () => (await callerSees(web.admin)) === 2, 30_000, 'ready again');
      await until(() => sick.app.hits > hits + 10, 30_000, 'traffic again');
    } finally {
      await traffic.stop();
      await sick.proxy.kill('SIGTERM');
      await sick.app.close();
    }
    assert.equal(traffic.failed, 0, `failed: ${traffic.failures.join(' | ')}`);
  });

  it('a controller restart: traffic continues, sets stay, instances re-register', async () => {
    const r2 = await startInstance(ctl, 'r2c', dir);
    await until(async () => (await callerSees(web.admin)) === 2, 30_000, 'two instances');
    const traffic = startTraffic(web.outbound);
    try {
      await ctl.kill('SIGTERM');
      await sleep(1000);
      ctl = await startMeshController(repo, path.join(dir, 'store'), '3s', ctl.port);
      const st = await getJson<{ discovery: { warming: boolean } }>(`${ctl.url}/v1/status`);
      assert.equal(st.discovery.warming, true, 'a restarted controller warms for one lease');
      await until(async () => (await readyInstances(ctl)) === 2, 30_000, 'both instances re-registered');
      await until(async () => !(await getJson<{ discovery: { warming: boolean } }>(`${ctl.url}/v1/status`)).discovery.warming, 30_000, 'warming ends');
      assert.equal(await callerSees(web.admin), 2, 'the caller kept both endpoints throughout');
      traffic.reset();
      await until(() => (traffic.byInstance.get('r1') ?? 0) >= 20 && (traffic.byInstance.get('r2c') ?? 0) >= 20, 30_000, 'both take traffic after the restart');
    } finally {
      await traffic.stop();
      await r2.proxy.kill('SIGTERM');
      await r2.app.close();
    }
    assert.equal(traffic.failed, 0, `failed: ${traffic.failures.join(' | ')}`);
  });

  it('tells "no endpoint set known" from "known, none ready" with two 503 codes', async () => {
    // (fetch() would drop the Host header: undici's request sends it.)
    const res = await request(`http://${web.outbound}/x`, { headers: { host: 'ratings' }, headersTimeout: 10_000, bodyTimeout: 10_000 });
    const text = await res.body.text();
    // ratings has no registered instances and no static endpoints: a known, empty set.
    assert.equal(res.statusCode, 503);
    assert.match(text, /WEFT_NO_READY_ENDPOINTS/);
    // A caller started from a cache holding a bundle but no endpoint sets, while no controller
    // answers, knows no set for reviews yet.
    await cp(path.join(dir, 'cache-web'), path.join(dir, 'cache-orphan'), { recursive: true });
    await rm(path.join(dir, 'cache-orphan', 'endpoints.json'), { force: true });
    const orphan = spawnWeft(['proxy', '--insecure', '--service', 'web', '--controller', `http://127.0.0.1:${await freePort()}`, '--outbound', '127.0.0.1:0', '--admin', 'off', '--cache-dir', path.join(dir, 'cache-orphan')]);
    try {
      const line = await waitFor(() => orphan.logs.find((l) => l.msg === 'listening'), 60_000, 'orphan listening', orphan);
      const res2 = await request(`http://${String(line.outbound)}/x`, { headers: { host: 'reviews' }, headersTimeout: 10_000, bodyTimeout: 10_000 });
      assert.equal(res2.statusCode, 503);
      assert.match(await res2.body.text(), /WEFT_ENDPOINTS_UNKNOWN/);
    } finally {
      await orphan.kill('SIGKILL');
    }
  });

  it('a restarted caller with an unreachable controller routes to the last known instances (endpoint cache)', async () => {
    // The caller's cache holds its bundle and its endpoint sets (endpoints.json, written on each change).
    await until(async () => {
      const doc = JSON.parse(await readFile(path.join(dir, 'cache-web', 'endpoints.json'), 'utf8')) as { sets: { service: string; endpoints: unknown[] }[] };
      return doc.sets.find((x) => x.service === 'default/reviews')?.endpoints.length === 1;
    }, 30_000, 'the caller to cache the one reviews instance');
    await cp(path.join(dir, 'cache-web'), path.join(dir, 'cache-restart'), { recursive: true });
    const restarted = spawnWeft(['proxy', '--insecure', '--service', 'web', '--controller', `http://127.0.0.1:${await freePort()}`, '--outbound', '127.0.0.1:0', '--admin', 'off', '--cache-dir', path.join(dir, 'cache-restart')]);
    try {
      const line = await waitFor(() => restarted.logs.find((l) => l.msg === 'listening'), 60_000, 'restarted caller listening', restarted);
      assert.ok(restarted.logs.some((l) => l.msg === 'endpoint sets restored from the cache'), 'the sets came from the cache');
      for (let i = 0; i < 5; i++) {
        const r = await request(`http://${String(line.outbound)}/reviews/1`, { headers: { host: 'reviews' }, headersTimeout: 10_000, bodyTimeout: 10_000 });
        assert.equal(r.statusCode, 200);
        assert.equal(await r.body.text(), 'r1', 'served by the last known instance');
      }
    } finally {
      await restarted.kill('SIGKILL');
    }
  });
});
