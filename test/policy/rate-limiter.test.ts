import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RateLimit } from '../../schemas/bundle.js';
import { identityOf } from '../../runtime/identity.js';
import { ManualClock } from '../../runtime/policy/clock.js';
import { BucketTable, RateLimiter, RateLimitState, rateLimitKey, UNIDENTIFIED_CALLER, type RateLimitRequest } from '../../runtime/policy/rate-limiter.js';

const reviews = identityOf('reviews', 'default', 'header');
const req = (over: Partial<RateLimitRequest> = {}): RateLimitRequest => ({ caller: reviews, clientAddress: '10.0.0.9', headers: {}, ...over });
const limit = (over: Partial<RateLimit> = {}): RateLimit => ({ policy: 'default/ratings', key: 'caller', requests: 10, perMs: 1000, burst: 5, ...over });

describe('rateLimitKey', () => {
  it('keys by caller, client address (unmapped) or header; absent header → null', () => {
    assert.equal(rateLimitKey('caller', req()), 'default/reviews');
    assert.equal(rateLimitKey('caller', req({ caller: null })), UNIDENTIFIED_CALLER);
    assert.equal(rateLimitKey('clientAddress', req({ clientAddress: '::ffff:10.1.2.3' })), '10.1.2.3');
    assert.equal(rateLimitKey('clientAddress', req({ clientAddress: '::1' })), '::1');
    assert.equal(rateLimitKey('clientAddress', req({ clientAddress: null })), null);
    assert.equal(rateLimitKey('header:x-api-key', req({ headers: { 'x-api-key': 'k1' } })), 'k1');
    assert.equal(rateLimitKey('header:X-Api-Key', req({ headers: { 'x-api-key': ['k2', 'k3'] } })), 'k2');
    assert.equal(rateLimitKey('header:x-api-key', req()), null);
  });
});

describe('RateLimiter', () => {
  it('admits burst at once, then refills at requests/per, with Retry-After', () => {
    const clock = new ManualClock(0);
    const rl = new RateLimiter([limit()], clock.now);
    for (let i = 0; i < 5; i++) assert.deepEqual(rl.check(req()), { allowed: true });
    const d = rl.check(req());
    assert.deepEqual(d, { allowed: false, policy: 'default/ratings', retryAfterSeconds: 1 });
    clock.advance(100); // one token at 10/s
    assert.equal(rl.check(req()).allowed, true);
    assert.equal(rl.check(req()).allowed, false);
    clock.advance(10_000); // refills to burst, no more
    let n = 0;
    while (rl.check(req()).allowed) n++;
    assert.equal(n, 5);
  });

  it('Retry-After rounds up to whole seconds for slow refills', () => {
    const clock = new ManualClock(0);
    const rl = new RateLimiter([limit({ requests: 1, perMs: 60_000, burst: 1 })], clock.now);
    assert.equal(rl.check(req()).allowed, true);
    assert.deepEqual(rl.check(req()), { allowed: false, policy: 'default/ratings', retryAfterSeconds: 60 });
    clock.advance(30_500);
    assert.deepEqual(rl.check(req()), { allowed: false, policy: 'default/ratings', retryAfterSeconds: 30 });
  });

  it('keeps one bucket per key; a header limit skips requests without the header', () => {
    const clock = new ManualClock(0);
    const rl = new RateLimiter([limit({ key: 'header:x-user', burst: 1, requests: 1, perMs: 60_000 })], clock.now);
    assert.equal(rl.check(req({ headers: { 'x-user': 'a' } })).allowed, true);
    assert.equal(rl.check(req({ headers: { 'x-user': 'a' } })).allowed, false);
    assert.equal(rl.check(req({ headers: { 'x-user': 'b' } })).allowed, true);
    for (let i = 0; i < 100; i++) assert.equal(rl.check(req()).allowed, true);
  });

  it('a refusal by one limit takes no token from another', () => {
    const clock = new ManualClock(0);
    const rl = new RateLimiter(
      [limit({ policy: 'default/a', burst: 3, requests: 1, perMs: 60_000 }), limit({ policy: 'default/b', key: 'clientAddress', burst: 1, requests: 1, perMs: 60_000 })],
      clock.now,
    );
    assert.equal(rl.check(req()).allowed, true);
    for (let i = 0; i < 10; i++) assert.deepEqual(rl.check(req()), { allowed: false, policy: 'default/b', retryAfterSeconds: 60 });
    // Limit a still holds 2 tokens for another client address.
    assert.equal(rl.check(req({ clientAddress: '10.0.0.10' })).allowed, true);
    assert.equal(rl.check(req({ clientAddress: '10.0.0.11' })).allowed, true);
    assert.deepEqual(rl.check(req({ clientAddress: '10.0.0.12' })), { allowed: false, policy: 'default/a', retryAfterSeconds: 60 });
  });

  it('bounds the key table (LRU) under a flood of distinct keys', () => {
    const clock = new ManualClock(0);
    const table = new BucketTable(100);
    const rl = new RateLimiter([limit({ key: 'header:x-k', burst: 1, requests: 1, perMs: 60_000 })], clock.now, [table]);
    // A hot key stays in the table while it is used.
    assert.equal(rl.check(req({ headers: { 'x-k': 'hot' } })).allowed, true);
    for (let i = 0; i < 10_000; i++) {
      rl.check(req({ headers: { 'x-k': `k${i}` } }));
      if (i % 50 === 0) assert.equal(rl.check(req({ headers: { 'x-k': 'hot' } })).allowed, false);
    }
    assert.equal(table.size, 100);
  });
});

describe('RateLimitState', () => {
  it('keeps buckets across reloads for the same policy and key, drops the rest on sweep', () => {
    const clock = new ManualClock(0);
    const state = new RateLimitState(clock.now);
    const one = state.limiter([limit({ burst: 2, requests: 1, perMs: 60_000 })]);
    state.sweep();
    assert.equal(one.check(req()).allowed, true);
    assert.equal(one.check(req()).allowed, true);
    // Reload: same policy, new rate. The bucket is still empty.
    const two = state.limiter([limit({ burst: 2, requests: 2, perMs: 60_000 })]);
    state.sweep();
    assert.equal(two.check(req()).allowed, false);
    // Reload without the policy, then with it again: it starts full.
    state.limiter([]);
    state.sweep();
    assert.equal(state.tableCount, 0);
    const three = state.limiter([limit({ burst: 2 })]);
    assert.equal(three.check(req()).allowed, true);
  });
});
