import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AuthorizationPolicyEntry, AuthorizationRule, AuthorizationSettings } from '../../schemas/bundle.js';
import { identityOf } from '../../runtime/identity.js';
import { authorize, describeDenial, pathMatches, type AuthorizationDecision, type AuthorizationRequest } from '../../runtime/policy/authorization.js';
import { policyHeader } from '../../runtime/policy/headers.js';
import { randomIndex, seededRandom, type RandomSource } from '../../runtime/policy/random.js';

const v2 = identityOf('reviews-v2', 'default', 'header');
const v3other = identityOf('reviews-v3', 'other', 'header');
const req = (over: Partial<AuthorizationRequest> = {}): AuthorizationRequest => ({ caller: v2, method: 'GET', path: '/ratings/1', headers: {}, ...over });

const allowRatings: AuthorizationPolicyEntry = {
  policy: 'default/ratings',
  rules: [
    {
      from: [
        { service: 'reviews-v2', namespace: 'default' },
        { service: 'reviews-v3', namespace: 'default' },
      ],
      to: [{ methods: ['GET'], paths: ['/ratings/*'] }],
      when: [{ header: 'x-env', values: ['prod', 'staging'] }],
    },
  ],
};
const denyAdmin: AuthorizationPolicyEntry = { policy: 'default/no-admin', rules: [{ from: null, to: [{ methods: null, paths: ['/admin', '/admin/*'] }], when: null }] };
const settings: AuthorizationSettings = { deny: [denyAdmin], allow: [allowRatings] };
const prod = { 'x-env': 'prod' };

describe('authorize', () => {
  it('allows what an ALLOW rule matches, naming the policy', () => {
    assert.deepEqual(authorize(settings, 'deny', req({ headers: prod })), { allowed: true, reason: 'allow-policy', policy: 'default/ratings' });
  });

  it('denies when ALLOW policies exist and none matches, whatever the mesh default', () => {
    for (const r of [req({ method: 'POST', headers: prod }), req({ path: '/ratings', headers: prod }), req({ headers: { 'x-env': 'dev' } }), req()]) {
      const d = authorize(settings, 'allow', r);
      assert.deepEqual(d, { allowed: false, reason: 'no-allow-match', policies: ['default/ratings'] });
    }
  });

  it('checks caller namespace as well as name', () => {
    assert.equal(authorize(settings, 'allow', req({ caller: v3other, headers: prod })).allowed, false);
    assert.equal(authorize(settings, 'allow', req({ caller: identityOf('reviews-v3', 'default', 'header'), headers: prod })).allowed, true);
  });

  it('an unidentified caller never matches a from clause', () => {
    assert.equal(authorize(settings, 'allow', req({ caller: null, headers: prod })).allowed, false);
  });

  it('DENY wins over ALLOW and applies to unidentified callers too', () => {
    const s: AuthorizationSettings = { deny: [denyAdmin], allow: [{ policy: 'default/all', rules: [{ from: null, to: null, when: null }] }] };
    assert.deepEqual(authorize(s, 'allow', req({ path: '/admin' })), { allowed: false, reason: 'deny-policy', policy: 'default/no-admin' });
    assert.equal(authorize(s, 'allow', req({ path: '/admin/users', caller: null })).allowed, false);
    assert.equal(authorize(s, 'allow', req({ path: '/administrator' })).allowed, true);
  });

  it('with no ALLOW policy the mesh default decides (after DENY)', () => {
    const s: AuthorizationSettings = { deny: [denyAdmin], allow: [] };
    assert.deepEqual(authorize(s, 'allow', req()), { allowed: true, reason: 'mesh-default', default: 'allow' });
    assert.deepEqual(authorize(s, 'deny', req()), { allowed: false, reason: 'mesh-default', default: 'deny' });
    assert.equal(authorize(s, 'allow', req({ path: '/admin' })).allowed, false);
  });

  it('header conditions: one of the values; a repeated header cannot slip past DENY nor ride along with ALLOW', () => {
    // ALLOW x-env in [prod, staging]: every value sent must be allowed.
    for (const env of ['staging', ['staging', 'prod'], 'prod, staging', 'prod,prod']) assert.equal(authorize(settings, 'deny', req({ headers: { 'x-env': env } })).allowed, true, JSON.stringify(env));
    for (const env of [['dev', 'staging'], 'prod, dev', 'dev,prod', ',']) assert.equal(authorize(settings, 'deny', req({ headers: { 'x-env': env } })).allowed, false, JSON.stringify(env));
    // DENY x-debug in [1]: any value sent that is denied denies (node joins `x-debug: 1` sent twice into "1, 1").
    const denyDebug: AuthorizationSettings = { deny: [{ policy: 'default/no-debug', rules: [{ from: null, to: null, when: [{ header: 'x-debug', values: ['1'] }] }] }], allow: [] };
    for (const debug of ['1', '1, 1', '0, 1', ['0', '1'], ' 1 ,0']) assert.equal(authorize(denyDebug, 'allow', req({ headers: { 'x-debug': debug } })).allowed, false, JSON.stringify(debug));
    for (const debug of ['0', '0, 2', '11', '1;1']) assert.equal(authorize(denyDebug, 'allow', req({ headers: { 'x-debug': debug } })).allowed, true, JSON.stringify(debug));
  });

  it('describes denials with the deciding policy', () => {
    assert.match(describeDenial(authorize(settings, 'allow', req({ path: '/admin' }))), /default\/no-admin/);
    assert.match(describeDenial(authorize(settings, 'allow', req())), /default\/ratings/);
    assert.match(describeDenial(authorize({ deny: [], allow: [] }, 'deny', req())), /mesh default/);
  });
});

describe('pathMatches', () => {
  it('exact or prefix ending in *', () => {
    assert.equal(pathMatches('/a', '/a'), true);
    assert.equal(pathMatches('/a', '/a/'), false);
    assert.equal(pathMatches('/a', '/A'), false);
    assert.equal(pathMatches('/a/*', '/a/'), true);
    assert.equal(pathMatches('/a/*', '/a/b/c'), true);
    assert.equal(pathMatches('/a/*', '/a'), false);
    assert.equal(pathMatches('*', '/anything'), true);
  });
});

/**
 * The documented semantics read literally (some/every over every clause, a `*` pattern as
 * startsWith of what precedes it): the oracle the proxy's loop form must agree with on every
 * input. authorize() is written with plain loops and without a prefix string per call because
 * it runs for every rule of every inbound request.
 */
function oracle(settings: AuthorizationSettings, meshDefault: 'allow' | 'deny', r: AuthorizationRequest): AuthorizationDecision {
  const path = (p: string): boolean => (p.endsWith('*') ? r.path.startsWith(p.slice(0, -1)) : r.path === p);
  const header = (v: string | readonly string[] | undefined, values: readonly string[], deny: boolean): boolean => {
    if (v === undefined) return false;
    if (typeof v === 'string' && values.includes(v)) return true;
    const parts = (typeof v === 'string' ? (v.includes(',') ? v.split(',') : []) : [...v]).map((x) => x.trim());
    return parts.length > 0 && (deny ? parts.some((x) => values.includes(x)) : parts.every((x) => values.includes(x)));
  };
  const rule = (x: AuthorizationRule, deny: boolean): boolean =>
    (x.from === null || (r.caller !== null && x.from.some((f) => f.service === r.caller!.service && f.namespace === r.caller!.namespace))) &&
    (x.to === null || x.to.some((t) => (t.methods === null || t.methods.includes(r.method)) && (t.paths === null || t.paths.some(path)))) &&
    (x.when === null || x.when.every((w) => header(policyHeader(r.headers, w.header.toLowerCase(), r.authority), w.values, deny)));
  const deny = settings.deny.find((p) => p.rules.some((x) => rule(x, true)));
  if (deny) return { allowed: false, reason: 'deny-policy', policy: deny.policy };
  if (settings.allow.length === 0) return { allowed: meshDefault === 'allow', reason: 'mesh-default', default: meshDefault };
  const allow = settings.allow.find((p) => p.rules.some((x) => rule(x, false)));
  if (allow) return { allowed: true, reason: 'allow-policy', policy: allow.policy };
  return { allowed: false, reason: 'no-allow-match', policies: settings.allow.map((p) => p.policy) };
}

describe('authorize agrees with the literal reading of the rules (seeded)', () => {
  const pick = <T>(rnd: RandomSource, xs: readonly T[]): T => xs[randomIndex(rnd, xs.length)]!;
  const some = <T>(rnd: RandomSource, xs: readonly T[], max = 3): T[] => Array.from({ length: 1 + randomIndex(rnd, max) }, () => pick(rnd, xs));
  const services = ['a', 'b', 'c'];
  const namespaces = ['default', 'other'];
  const methods = ['GET', 'POST', 'DELETE'];
  const patterns = ['*', '/', '/api', '/api/*', '/api/v1/*', '/ap*', '/api/v1/items', '', '/é/*', '/x'];
  const paths = ['/', '/api', '/api/', '/api/v1/items', '/api/v2', '/apx', '/a', '', '/é/1', '/x', '/x/'];
  const rule = (rnd: RandomSource): AuthorizationRule => ({
    from: rnd() < 0.4 ? null : some(rnd, services).map((service) => ({ service, namespace: pick(rnd, namespaces) })),
    to: rnd() < 0.3 ? null : Array.from({ length: 1 + randomIndex(rnd, 2) }, () => ({ methods: rnd() < 0.4 ? null : some(rnd, methods), paths: rnd() < 0.3 ? null : some(rnd, patterns) })),
    when: rnd() < 0.6 ? null : [{ header: pick(rnd, ['x-env', 'X-Env', 'host']), values: some(rnd, ['prod', 'dev', 'up']) }],
  });
  const policies = (rnd: RandomSource, kind: string): AuthorizationPolicyEntry[] =>
    Array.from({ length: randomIndex(rnd, 3) }, (_, i) => ({ policy: `default/${kind}-${i}`, rules: Array.from({ length: 1 + randomIndex(rnd, 4) }, () => rule(rnd)) }));

  it('5,000 random policy sets and requests, including the Exchange itself as the request', () => {
    const rnd = seededRandom(1616);
    for (let i = 0; i < 5_000; i++) {
      const s: AuthorizationSettings = { deny: policies(rnd, 'deny'), allow: policies(rnd, 'allow') };
      const meshDefault = rnd() < 0.5 ? 'allow' : 'deny';
      // One value, repeats kept apart (an array), or repeats joined as node:http joins them.
      const env = rnd() < 0.3 ? undefined : rnd() < 0.4 ? pick(rnd, ['prod', 'dev']) : rnd() < 0.5 ? some(rnd, ['dev', 'prod', 'up']) : some(rnd, ['dev', 'prod', 'up', ' prod']).join(pick(rnd, [', ', ',']));
      const r: AuthorizationRequest = {
        caller: rnd() < 0.3 ? null : identityOf(pick(rnd, services), pick(rnd, namespaces), 'header'),
        method: pick(rnd, methods),
        path: pick(rnd, paths),
        headers: env === undefined ? {} : { 'x-env': env },
        authority: pick(rnd, ['up', 'down']),
      };
      const want = oracle(s, meshDefault, r);
      assert.deepEqual(authorize(s, meshDefault, r), want, JSON.stringify({ s, meshDefault, r }));
      // The proxy passes its Exchange (more fields, another shape): same answer.
      const exchangeLike = { id: 'x', clientAddress: '127.0.0.1', query: '', ...r };
      assert.deepEqual(authorize(s, meshDefault, exchangeLike), want);
    }
  });

  it('pathMatches equals startsWith of the pattern without its star, and equality otherwise', () => {
    for (const p of patterns) for (const x of paths) assert.equal(pathMatches(p, x), p.endsWith('*') ? x.startsWith(p.slice(0, -1)) : x === p, `${p} ${x}`);
  });
});
