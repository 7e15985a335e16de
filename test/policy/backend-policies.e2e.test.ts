/**
 * BackendPolicy, outbound rate limits and faults, end to end: one real `weft proxy` process (the
 * caller's sidecar) in front of real upstream apps on loopback. Each Service of the bundle
 * exercises one policy. Load is bounded (hundreds of requests) and time bounds are generous.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BackendPolicySettings, BundleSpec, Filter, RateLimit, ServiceEntry } from '../../schemas/bundle.js';
import { bundle, service, spec, type RuleInput } from '../helpers/bundle-builder.js';
import { closeAgent, removeDir, getText, metricValue, send, sendMany, sleep, startApp, startProxy, tempDir, waitForDigest, writeBundle, type App, type ProxyProcess } from '../helpers/proxy-harness.js';

const apps: Record<string, App[]> = {};
let proxy: ProxyProcess;
let bundleFile: string;
let meshSpec: BundleSpec;
let cleanup: () => Promise<void>;

function svc(name: string, policy: Partial<BackendPolicySettings>, producer?: RuleInput[]): ServiceEntry {
  const s = service(name, { endpoints: (apps[name] ?? []).map((a) => `127.0.0.1:${a.port}`), producer: producer ?? null });
  s.backendPolicy = { ...s.backendPolicy, policy: name, ...policy };
  return s;
}

const slowFault: Filter = { type: 'Fault', name: 'flaky', fault: { delay: { ms: 100, percent: 50 }, abort: { status: 503, percent: 20 } } };
const mirrorTo = (service: string): Filter => ({ type: 'RequestMirror', mirror: { service, port: 80, percent: 100 } });
const perUser: RateLimit = { policy: 'default/per-user', key: 'header:x-user', requests: 1, perMs: 2000, burst: 3 };

before(async () => {
  const names: [string, number][] = [
    ['rr', 3],
    ['random', 3],
    ['least', 2],
    ['hash', 3],
    ['pool', 1],
    ['queued', 1],
    ['outlier', 2],
    ['failing', 1],
    ['faulty', 1],
    ['limited', 1],
    ['mirrored', 1],
    ['shadow-hash', 3],
    ['shadow-outlier', 2],
  ];
  for (const [name, n] of names) apps[name] = await Promise.all(Array.from({ length: n }, (_, i) => startApp(`${name}-${i}`)));
  apps['least']![0]!.delayMs = 300;
  apps['pool']![0]!.delayMs = 800;
  apps['queued']![0]!.delayMs = 600;
  apps['outlier']![1]!.status = 500;
  apps['failing']![0]!.status = 503;
  apps['shadow-outlier']![1]!.status = 500;

  const limited = svc('limited', {}, [{ backends: [{ service: 'limited' }] }]);
  limited.routing.producer!.rules[0]!.rateLimits = [perUser];
  const s = spec([
    service('client'),
    svc('rr', { loadBalancer: { type: 'RoundRobin' } }),
    svc('random', { loadBalancer: { type: 'Random' } }),
    svc('least', { loadBalancer: { type: 'LeastRequest' } }),
    svc('hash', { loadBalancer: { type: 'ConsistentHash', hashOn: { header: 'x-user' } } }),
    svc('pool', { connectionPool: { maxConnections: 1, maxPendingRequests: 1 } }),
    svc('queued', { connectionPool: { maxConnections: 1, maxPendingRequests: 5 } }, [{ backends: [{ service: 'queued' }], timeouts: { backendRequestMs: 1000 } }]),
    svc('outlier', { outlierDetection: { consecutiveErrors: 3, intervalMs: 10_000, baseEjectionTimeMs: 4000, maxEjectionPercent: 50 } }),
    svc('failing', { retryBudget: { percent: 20, minRetriesPerSecond: 1, intervalMs: 10_000 } }, [{ backends: [{ service: 'failing' }], retry: { attempts: 3, codes: [503], backoffMs: 1 } }]),
    svc('faulty', {}, [{ backends: [{ service: 'faulty' }], filters: [slowFault] }]),
    limited,
    svc('mirrored', {}, [
      { route: 'to-hash', matches: [{ path: { type: 'PathPrefix', value: '/hash' } }], filters: [mirrorTo('default/shadow-hash')], backends: [{ service: 'mirrored' }] },
      { route: 'to-outlier', matches: [{ path: { type: 'PathPrefix', value: '/outlier' } }], filters: [mirrorTo('default/shadow-outlier')], backends: [{ service: 'mirrored' }] },
    ]),
    svc('shadow-hash', { loadBalancer: { type: 'ConsistentHash', hashOn: { header: 'x-user' } } }),
    svc('shadow-outlier', { outlierDetection: { consecutiveErrors: 3, intervalMs: 10_000, baseEjectionTimeMs: 60_000, maxEjectionPercent: 50 } }),
  ]);
  const dir = tempDir('weft-policy-');
  cleanup = () => removeDir(dir);
  const file = path.join(dir, 'bundle.json');
  await writeBundle(file, bundle(s));
  bundleFile = file;
  meshSpec = s;
  // Seeded: the Random balancer and the fault percentages below are statistical checks, and a
  // fixed seed makes each run draw the same sequence (the tolerances still hold for any seed).
  proxy = await startProxy({ service: 'client', bundle: file, extra: ['--random-seed', '20261130'] });
});

after(async () => {
  await proxy?.stop();
  for (const list of Object.values(apps)) for (const a of list) await a.close();
  closeAgent();
  await cleanup?.();
});

const out = (host: string, target = '/', headers: Record<string, string> = {}): ReturnType<typeof send> => send(proxy.outbound!, host, target, { headers });
const countsOf = (name: string): number[] => (apps[name] ?? []).map((a) => a.seen.length);

describe('load balancing (through a real proxy)', () => {
  it('RoundRobin: equal shares', async () => {
    for (let i = 0; i < 90; i++) assert.equal((await out('rr')).status, 200);
    for (const c of countsOf('rr')) assert.ok(c >= 29 && c <= 31, countsOf('rr').join(','));
  });

  it('Random: every endpoint within tolerance', async () => {
    const rs = await sendMany(300, 8, () => out('random'));
    assert.ok(rs.every((r) => r.status === 200));
    for (const c of countsOf('random')) assert.ok(c >= 60 && c <= 140, countsOf('random').join(','));
  });

  it('LeastRequest: the slow endpoint gets far fewer requests under concurrency', async () => {
    const rs = await sendMany(200, 8, () => out('least'));
    assert.ok(rs.every((r) => r.status === 200));
    const [slow, fast] = countsOf('least') as [number, number];
    // P2C over two endpoints evens out in-flight counts, so shares follow 1/latency: even with
    // 100 ms of proxy overhead on a loaded machine the fast endpoint takes 80%; round-robin: 50%.
    assert.ok(fast > 0.7 * (slow + fast), `slow ${slow}, fast ${fast}`);
  });

  it('ConsistentHash: each user sticks to one endpoint, users spread', async () => {
    const homes = new Map<string, Set<string>>();
    for (let u = 0; u < 30; u++) {
      for (let k = 0; k < 4; k++) {
        const r = await out('hash', '/', { 'x-user': `user-${u}` });
        assert.equal(r.status, 200);
        const set = homes.get(`user-${u}`) ?? new Set<string>();
        set.add(r.body.trim());
        homes.set(`user-${u}`, set);
      }
    }
    for (const [u, set] of homes) assert.equal(set.size, 1, `${u} went to ${[...set].join(', ')}`);
    assert.ok(countsOf('hash').filter((c) => c > 0).length >= 2, countsOf('hash').join(','));
  });
});

describe('connection pool', () => {
  it('overflow beyond maxConnections + maxPendingRequests is answered 503 at once', async () => {
    const rs = await Promise.all(Array.from({ length: 6 }, () => out('pool')));
    const ok = rs.filter((r) => r.status === 200);
    const overflow = rs.filter((r) => r.status === 503);
    assert.equal(ok.length, 2, rs.map((r) => r.status).join(','));
    assert.equal(overflow.length, 4);
    for (const r of overflow) {
      assert.equal(r.headers['weft-reason'], 'pool-overflow');
      assert.match(r.body, /WEFT_POOL_OVERFLOW/);
      assert.ok(r.ms < 700, `overflow took ${r.ms} ms: it must not wait for the 800 ms upstream`);
    }
    assert.equal(apps['pool']![0]!.maxInFlight, 1);
    const metrics = await getText(proxy.admin, '/metrics');
    assert.equal(metricValue(metrics, 'weft_pool_overflow_total', { service: 'default/pool' }), 4);
  });
});

describe('connection pool wait', () => {
  it('a request still queued when its backendRequest timeout fires gets 504, and leaves the queue', async () => {
    // One slot, upstream 600 ms, attempt timeout 1 s: #1 answers, #2 times out upstream, #3 in the queue.
    const rs = await Promise.all(Array.from({ length: 3 }, () => out('queued')));
    const statuses = rs.map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, 504, 504], rs.map((r) => `${r.status} ${r.body.trim()}`).join(' | '));
    assert.ok(rs.every((r) => r.headers['weft-reason'] !== 'pool-overflow'));
    await sleep(700); // let the abandoned upstream request finish
    const config = JSON.parse(await getText(proxy.admin, '/config')) as { policies: { backends: Record<string, { pools: { inFlight: number; pending: number }[] }> } };
    assert.deepEqual(config.policies.backends['default/queued']!.pools.map((p) => [p.inFlight, p.pending]), [[0, 0]]);
  });
});

describe('outlier detection', () => {
  it('ejects a failing endpoint, moves traffic to the healthy one, returns it after the ejection time', async () => {
    const [good, bad] = apps['outlier'] as [App, App];
    for (let i = 0; i < 10; i++) await out('outlier');
    const ejectedAt = Date.now();
    assert.equal(bad.seen.length, 3, 'three consecutive errors, then ejected');
    const badBefore = bad.seen.length;
    const rs = await sendMany(20, 1, () => out('outlier'));
    assert.ok(rs.every((r) => r.status === 200));
    assert.equal(bad.seen.length, badBefore, 'no traffic to the ejected endpoint');
    assert.ok(good.seen.length >= 27);

    const config = JSON.parse(await getText(proxy.admin, '/config')) as { policies: { backends: Record<string, { outlier: { endpoint: string; ejected: boolean }[] }> } };
    const states = config.policies.backends['default/outlier']!.outlier!;
    assert.deepEqual(
      states.map((s) => [s.endpoint, s.ejected]),
      [
        [`127.0.0.1:${good.port}`, false],
        [`127.0.0.1:${bad.port}`, true],
      ].sort((a, b) => (String(a[0]) < String(b[0]) ? -1 : 1)),
    );
    const metrics = await getText(proxy.admin, '/metrics');
    assert.equal(metricValue(metrics, 'weft_outlier_ejections_total', { service: 'default/outlier' }), 1);
    assert.equal(metricValue(metrics, 'weft_outlier_ejected', { endpoint: `127.0.0.1:${bad.port}` }), 1);

    // A reload that keeps the Service and its endpoints keeps the ejection.
    const reloaded = bundle({ ...meshSpec, services: [...meshSpec.services, service('newcomer')].sort((a, b) => (a.id < b.id ? -1 : 1)) });
    await writeBundle(bundleFile, reloaded);
    await waitForDigest(proxy.admin, reloaded.digest);
    await sendMany(10, 1, () => out('outlier'));
    // On a very slow machine the 4 s ejection may be over by now: then only the state can tell.
    if (Date.now() - ejectedAt < 3500) assert.equal(bad.seen.length, badBefore, 'still ejected after the reload');
    const after = JSON.parse(await getText(proxy.admin, '/config')) as { policies: { backends: Record<string, { outlier: { endpoint: string; totalEjections: number }[] }> } };
    const badState = after.policies.backends['default/outlier']!.outlier.find((h) => h.endpoint === `127.0.0.1:${bad.port}`);
    assert.ok(badState && badState.totalEjections >= 1, 'outlier state kept across the reload');

    bad.status = 200;
    await sleep(4200);
    const back = await sendMany(20, 1, () => out('outlier'));
    assert.ok(back.every((r) => r.status === 200));
    assert.ok(bad.seen.length - badBefore >= 8, `returned endpoint got ${bad.seen.length - badBefore} of 20`);
  });
});

describe('mirrored requests follow the mirror Service\'s BackendPolicy', () => {
  const seenBy = (name: string): number => countsOf(name).reduce((a, b) => a + b, 0);
  const mirrorsArrive = async (name: string, n: number): Promise<void> => {
    for (let i = 0; i < 250 && seenBy(name) < n; i++) await sleep(20);
    assert.equal(seenBy(name), n, `${name} saw ${countsOf(name).join(',')}`);
  };

  it('ConsistentHash: every mirror of one user reaches the same endpoint', async () => {
    let expected = 0;
    for (let u = 0; u < 12; u++) {
      for (let k = 0; k < 3; k++) {
        assert.equal((await out('mirrored', '/hash', { 'x-user': `user-${u}` })).status, 200);
        expected++;
        await mirrorsArrive('shadow-hash', expected);
      }
    }
    const homes = new Map<string, Set<string>>();
    for (const a of apps['shadow-hash']!) {
      for (const r of a.seen) {
        const user = String(r.headers['x-user']);
        homes.set(user, (homes.get(user) ?? new Set<string>()).add(a.name));
      }
    }
    assert.equal(homes.size, 12);
    for (const [u, set] of homes) assert.equal(set.size, 1, `${u}'s mirrors went to ${[...set].join(', ')}`);
  });

  it('outlier detection: mirror failures eject the endpoint, later mirrors avoid it', async () => {
    const [good, bad] = apps['shadow-outlier'] as [App, App];
    for (let i = 1; i <= 16; i++) {
      assert.equal((await out('mirrored', '/outlier')).status, 200);
      await mirrorsArrive('shadow-outlier', i);
    }
    assert.equal(bad.seen.length, 3, 'three consecutive errors, then ejected');
    assert.equal(good.seen.length, 13);
  });
});

describe('retry budget', () => {
  it('caps retries to a failing backend (attempts counted at the backend)', async () => {
    const backend = apps['failing']![0]!;
    const started = Date.now();
    const rs = await sendMany(50, 1, () => out('failing'));
    const seconds = (Date.now() - started) / 1000;
    assert.ok(rs.every((r) => r.status === 503));
    const attempts = backend.seen.length;
    // Without a budget: 50 × (1 + 3) = 200 attempts. With 20% + 1/s: at most 50 + 10 + 1/s.
    const bound = 50 + 0.2 * 50 + Math.ceil(1.2 * seconds + 2);
    assert.ok(attempts <= bound, `${attempts} attempts > ${bound}`);
    assert.ok(attempts >= 55, `${attempts}: retries should still happen within the budget`);
    const metrics = await getText(proxy.admin, '/metrics');
    assert.ok(metricValue(metrics, 'weft_retry_budget_exhausted_total', { service: 'default/failing' }) > 0);
  });
});

describe('fault injection', () => {
  it('delays and aborts about the configured percentages', async () => {
    const n = 200;
    const rs = await sendMany(n, 10, () => out('faulty'));
    const aborted = rs.filter((r) => r.status === 503 && r.headers['weft-reason'] === 'fault-abort').length;
    assert.ok(aborted >= 0.1 * n && aborted <= 0.3 * n, `aborted ${aborted}/${n}`);
    assert.equal(apps['faulty']![0]!.seen.length, n - aborted, 'aborted requests are never forwarded');
    assert.equal(rs.filter((r) => r.status !== 200 && r.headers['weft-reason'] !== 'fault-abort').length, 0);
    // Which requests were delayed is the proxy's secret; the metric counts them, and every one of
    // them must have taken at least the delay (a loaded machine only makes requests slower).
    const metrics = await getText(proxy.admin, '/metrics');
    const delayed = metricValue(metrics, 'weft_fault_injected_total', { fault: 'flaky', kind: 'delay' });
    assert.ok(delayed >= 0.35 * n && delayed <= 0.65 * n, `delayed ${delayed}/${n}`);
    assert.equal(metricValue(metrics, 'weft_fault_injected_total', { fault: 'flaky', kind: 'abort' }), aborted);
    const slowEnough = rs.filter((r) => r.ms >= 98).length;
    assert.ok(slowEnough >= delayed, `${slowEnough} requests took ≥ 100 ms, but ${delayed} were delayed`);
  });
});

describe('rate limit on an HTTPRoute (outbound)', () => {
  it('429 with Retry-After past the burst, per key; no header, no limit; recovers', async () => {
    const a = { 'x-user': 'a' };
    for (let i = 0; i < 3; i++) assert.equal((await out('limited', '/', a)).status, 200);
    const refused = await out('limited', '/', a);
    assert.equal(refused.status, 429);
    assert.ok(['1', '2'].includes(String(refused.headers['retry-after'])), String(refused.headers['retry-after']));
    assert.equal(refused.headers['weft-reason'], 'rate-limited');
    assert.match(refused.body, /default\/per-user/);
    assert.equal((await out('limited', '/', { 'x-user': 'b' })).status, 200);
    for (let i = 0; i < 6; i++) assert.equal((await out('limited')).status, 200);
    await sleep(2100);
    assert.equal((await out('limited', '/', a)).status, 200);
    const metrics = await getText(proxy.admin, '/metrics');
    assert.equal(metricValue(metrics, 'weft_rate_limited_total', { direction: 'outbound', policy: 'default/per-user' }), 1);
  });
});
