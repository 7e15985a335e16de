import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AuthorizationPolicyEntry, AuthorizationSettings } from '../../schemas/bundle.js';
import { identityOf } from '../../runtime/identity.js';
import { authorize, describeDenial, pathMatches, type AuthorizationRequest } from '../../runtime/policy/authorization.js';

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

  it('header conditions: any of the values, repeated headers each count', () => {
    assert.equal(authorize(settings, 'deny', req({ headers: { 'x-env': ['dev', 'staging'] } })).allowed, true);
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
