import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import type { RateLimit, ServiceEntry } from '../../schemas/bundle.js';
import { buildRouter, type Router } from '../../runtime/router/index.js';
import { ManualClock } from '../../runtime/policy/clock.js';
import { PolicyRuntime } from '../../runtime/policy/policy-runtime.js';
import { seededRandom } from '../../runtime/policy/random.js';
import { service, spec } from '../helpers/bundle-builder.js';

const limit: RateLimit = { policy: 'default/rl', key: 'caller', requests: 1, perMs: 60_000, burst: 2 };

function reviews(endpoints: string[], over: Partial<ServiceEntry['backendPolicy']> = {}, rateLimits: RateLimit[] = [limit]): ServiceEntry {
  const s = service('reviews', { endpoints });
  s.backendPolicy = { ...s.backendPolicy, outlierDetection: { consecutiveErrors: 1, intervalMs: 10_000, baseEjectionTimeMs: 30_000, maxEjectionPercent: 50 }, ...over };
  s.rateLimits = rateLimits;
  return s;
}

function setup(): { rt: PolicyRuntime; clock: ManualClock; activate: (r: Router) => void } {
  let active: Router | null = null;
  const clock = new ManualClock(1);
  const rt = new PolicyRuntime({ registry: new Registry(), random: seededRandom(1), clock: clock.now, activeRouter: () => active });
  return { rt, clock, activate: (r) => (active = r) };
}

const req = { caller: null, clientAddress: '127.0.0.1', headers: {} };

describe('PolicyRuntime across reloads', () => {
  it('keeps outlier state and rate-limit buckets for what persists, takes new settings', () => {
    const { rt, activate } = setup();
    const r1 = buildRouter(spec([reviews(['10.0.0.1:80', '10.0.0.2:80', '10.0.0.3:80'])]));
    activate(r1);
    const p1 = rt.forRouter(r1);
    const b1 = p1.backend(r1.services.get('default/reviews')!.entry);
    b1.state.outlier!.record('10.0.0.1:80', false);
    assert.equal(b1.state.outlier!.isEjected('10.0.0.1:80'), true);
    const l1 = p1.serviceLimits.get('default/reviews')!;
    assert.equal(l1.check(req).allowed, true);
    assert.equal(l1.check(req).allowed, true);
    assert.equal(l1.check(req).allowed, false);

    // New bundle: 10.0.0.3 removed, 10.0.0.4 added, a pool limit added; same rate-limit policy.
    const r2 = buildRouter(spec([reviews(['10.0.0.1:80', '10.0.0.2:80', '10.0.0.4:80'], { connectionPool: { maxConnections: 1, maxPendingRequests: 0 } })]));
    activate(r2);
    const p2 = rt.forRouter(r2);
    const b2 = p2.backend(r2.services.get('default/reviews')!.entry);
    assert.equal(b2.state, b1.state, 'same backend state object');
    assert.equal(b2.state.outlier!.isEjected('10.0.0.1:80'), true, 'ejection survives the reload');
    assert.deepEqual(
      b2.state.outlier!.snapshot().map((h) => h.endpoint),
      ['10.0.0.1:80', '10.0.0.2:80', '10.0.0.4:80'],
    );
    assert.ok(b2.state.pools.limiter('10.0.0.2:80').tryAcquire() !== null);
    assert.equal(b2.state.pools.limiter('10.0.0.2:80').tryAcquire(), null, 'new pool limit applies');
    assert.equal(p2.serviceLimits.get('default/reviews')!.check(req).allowed, false, 'bucket survives the reload');
    // The ejected endpoint is skipped by the new table's picks.
    for (let i = 0; i < 20; i++) assert.notEqual(b2.keys[b2.balancer.pick({ eligible: b2.eligible })], '10.0.0.1:80');
  });

  it('an older table seen late does not rewrite shared state', () => {
    const { rt, activate } = setup();
    const old = buildRouter(spec([reviews(['10.0.0.1:80'], { connectionPool: { maxConnections: 5, maxPendingRequests: 0 } })]));
    const cur = buildRouter(spec([reviews(['10.0.0.1:80'], { connectionPool: { maxConnections: 1, maxPendingRequests: 0 } })]));
    activate(cur);
    const bCur = rt.forRouter(cur).backend(cur.services.get('default/reviews')!.entry);
    rt.forRouter(old).backend(old.services.get('default/reviews')!.entry);
    const l = bCur.state.pools.limiter('10.0.0.1:80');
    assert.ok(l.tryAcquire() !== null);
    assert.equal(l.tryAcquire(), null, 'still the current limit of 1');
  });

  it('forgets buckets of a removed policy and state of a removed Service', () => {
    const { rt, activate } = setup();
    const r1 = buildRouter(spec([reviews(['10.0.0.1:80'])]));
    activate(r1);
    rt.forRouter(r1).backend(r1.services.get('default/reviews')!.entry);
    const l1 = rt.forRouter(r1).serviceLimits.get('default/reviews')!;
    l1.check(req);
    l1.check(req);
    const r2 = buildRouter(spec([reviews(['10.0.0.1:80'], {}, [])]));
    activate(r2);
    rt.forRouter(r2);
    assert.equal(rt.snapshot().rateLimitTables.inbound, 0);
    const r3 = buildRouter(spec([reviews(['10.0.0.1:80'])]));
    activate(r3);
    assert.equal(rt.forRouter(r3).serviceLimits.get('default/reviews')!.check(req).allowed, true, 'starts full again');
    const r4 = buildRouter(spec([service('other')]));
    activate(r4);
    rt.forRouter(r4);
    assert.deepEqual(Object.keys(rt.snapshot().backends), []);
  });
});
