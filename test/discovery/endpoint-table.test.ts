/**
 * The proxy's EndpointTable and the balancers over it, as plain values: git's and discovered
 * endpoints merged, readiness, warming (incomplete sets remove nothing), the two "no endpoint"
 * states, and endpoint updates applied in place (ejections, least-request counts and the
 * consistent-hash ring survive a change to another endpoint; only keys that move, move).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import type { ServiceEntry } from '../../schemas/bundle.js';
import { buildRouter } from '../../runtime/router/index.js';
import { ManualClock } from '../../runtime/policy/clock.js';
import { PolicyRuntime } from '../../runtime/policy/policy-runtime.js';
import { seededRandom } from '../../runtime/policy/random.js';
import { EndpointTable } from '../../runtime/discovery/endpoint-table.js';
import { versionOf } from '../../runtime/discovery/catalog.js';
import type { DiscoveredEndpoint, EndpointSet } from '../../runtime/discovery/protocol.js';
import { service, spec } from '../helpers/bundle-builder.js';

const d = (port: number, ready = true): DiscoveredEndpoint => ({ address: '10.1.0.1', port, labels: {}, ready, meshed: true, instance: `i${port}` });
const set = (endpoints: DiscoveredEndpoint[], complete = true, svc = 'default/reviews'): EndpointSet => ({ service: svc, version: versionOf(svc, complete, endpoints), complete, endpoints });
const ports = (t: EndpointTable, e: ServiceEntry): number[] => t.view(e).endpoints.map((x) => x.port);

describe('EndpointTable', () => {
  it('merges git endpoints first, then ready registered ones, each address once', () => {
    const entry = service('reviews', { endpoints: ['10.1.0.1:1000'] });
    const t = new EndpointTable(true);
    assert.equal(t.view(entry).state, 'static');
    t.apply([set([d(1000), d(2000), d(3000, false)])]);
    const v = t.view(entry);
    assert.equal(v.state, 'discovered');
    assert.deepEqual(v.endpoints.map((x) => x.port), [1000, 2000]);
    assert.equal(v.notReady, 1);
    assert.equal(v.endpoints[1]?.meshed, true, 'registered endpoints are meshed');
    assert.equal(t.view(entry), v, 'the same object until something changes');
  });

  it('says unknown before any set arrives, and known-but-empty after an empty one', () => {
    const entry = service('reviews');
    const t = new EndpointTable(true);
    assert.equal(t.view(entry).state, 'unknown');
    t.apply([set([])]);
    assert.deepEqual({ ...t.view(entry) }, { state: 'discovered', endpoints: [], notReady: 0 });
    const off = new EndpointTable(false);
    off.apply([set([d(1)])]);
    assert.equal(off.view(entry).state, 'static', 'without discovery only git counts');
  });

  it('while the controller warms, adds what it is told and removes nothing it knew', () => {
    const entry = service('reviews');
    const t = new EndpointTable(true);
    t.apply([set([d(1), d(2)])]);
    t.apply([set([d(3)], false)]);
    assert.deepEqual(ports(t, entry), [1, 2, 3]);
    t.apply([set([d(2, false), d(3)], false)]);
    assert.deepEqual(ports(t, entry), [1, 3], 'newer readiness wins');
    t.apply([set([d(3)], true)]);
    assert.deepEqual(ports(t, entry), [3], 'a complete set replaces');
  });

  it('ignores a set it already has, and reports which Services changed', () => {
    const t = new EndpointTable(true);
    const heard: string[][] = [];
    t.subscribe((ids) => heard.push([...ids]));
    assert.deepEqual(t.apply([set([d(1)]), set([], true, 'default/ratings')]), ['default/reviews', 'default/ratings']);
    assert.deepEqual(t.apply([set([d(1)])]), []);
    assert.deepEqual(heard, [['default/reviews', 'default/ratings']]);
    assert.equal(t.versionOf('default/reviews'), set([d(1)]).version);
  });
});

describe('balancers over discovered endpoints, updated in place', () => {
  function setup(lb: ServiceEntry['backendPolicy']['loadBalancer']): { rt: PolicyRuntime; entry: ServiceEntry; table: EndpointTable; pick: (key?: string) => string } {
    const entry = service('reviews');
    entry.backendPolicy = { ...entry.backendPolicy, loadBalancer: lb, outlierDetection: { consecutiveErrors: 1, intervalMs: 10_000, baseEjectionTimeMs: 30_000, maxEjectionPercent: 50 } };
    const router = buildRouter(spec([entry]));
    const live = router.services.get('default/reviews')!.entry;
    const rt = new PolicyRuntime({ registry: new Registry(), random: seededRandom(7), clock: new ManualClock(1).now, activeRouter: () => router });
    const table = new EndpointTable(true);
    const pick = (key?: string): string => {
      const b = rt.forRouter(router).backend(live, table.view(live).endpoints);
      const i = b.balancer.pick({ eligible: b.eligible, hashKey: key ?? null });
      return b.keys[i] ?? 'none';
    };
    return { rt, entry: live, table, pick };
  }

  it('keeps an ejection and in-flight counts when another instance joins or leaves', () => {
    const { rt, entry, table, pick } = setup({ type: 'LeastRequest' });
    table.apply([set([d(1), d(2), d(3)])]);
    pick();
    const state = rt.forRouter(buildRouter(spec([entry]))).backend(entry).state;
    state.outlier!.record('10.1.0.1:1', false);
    assert.equal(state.outlier!.isEjected('10.1.0.1:1'), true);
    assert.ok(state.pools.limiter('10.1.0.1:2').tryAcquire() !== null, 'one request in flight to :2');
    table.apply([set([d(1), d(2), d(3), d(4)])]);
    pick();
    assert.equal(state.outlier!.isEjected('10.1.0.1:1'), true, 'ejection survives a join');
    assert.equal(state.pools.inFlight('10.1.0.1:2'), 1, 'in-flight count survives a join');
    table.apply([set([d(1), d(2), d(4)])]);
    for (let i = 0; i < 50; i++) assert.notEqual(pick(), '10.1.0.1:1', 'the ejected endpoint stays skipped');
    assert.equal(state.outlier!.isEjected('10.1.0.1:1'), true, 'ejection survives a leave');
  });

  it('moves only the consistent-hash keys owned by an instance that joins or leaves', () => {
    const { table, pick } = setup({ type: 'ConsistentHash', hashOn: { header: 'x-user' } });
    table.apply([set([d(1), d(2), d(3)])]);
    const keys = Array.from({ length: 600 }, (_, i) => `user-${i}`);
    const before = new Map(keys.map((k) => [k, pick(k)]));
    table.apply([set([d(1), d(2), d(3), d(4)])]);
    let moved = 0;
    for (const k of keys) {
      const now = pick(k);
      if (now !== before.get(k)) {
        moved++;
        assert.equal(now, '10.1.0.1:4', `${k} moved, and only to the new instance`);
      }
    }
    assert.ok(moved > 60 && moved < 300, `about a quarter of the keys move to the new instance (moved ${moved})`);
    table.apply([set([d(1), d(2), d(3)])]);
    for (const k of keys) assert.equal(pick(k), before.get(k), 'it leaves: every key is back where it was');
  });
});
