/**
 * The contract between the compiler's lowering and the policy modules: policy YAML, compiled by
 * the real compiler, decides requests as the policy author meant. No processes; the proxy steps
 * call exactly these functions on exactly these lowered forms.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { compile } from '../../compiler/compile.js';
import type { Bundle, ServiceEntry } from '../../schemas/bundle.js';
import { identityOf } from '../../runtime/identity.js';
import { authorize } from '../../runtime/policy/authorization.js';
import { ManualClock } from '../../runtime/policy/clock.js';
import { createLoadBalancer } from '../../runtime/policy/create-load-balancer.js';
import { hashKeyFor } from '../../runtime/policy/consistent-hash.js';
import { RateLimiter } from '../../runtime/policy/rate-limiter.js';

const YAML = `
apiVersion: weft.dev/v1alpha1
kind: MeshConfig
metadata: { name: mesh }
spec:
  authorization: { default: deny }
---
apiVersion: weft.dev/v1alpha1
kind: Service
metadata: { name: ratings }
spec:
  ports: [{ name: http, port: 9080 }]
  endpoints:
    - { address: 127.0.0.1, port: 19001 }
    - { address: 127.0.0.1, port: 19002 }
---
apiVersion: weft.dev/v1alpha1
kind: Service
metadata: { name: reviews, namespace: shop }
spec:
  ports: [{ name: http, port: 9080 }]
  endpoints: [{ address: 127.0.0.1, port: 19003 }]
---
apiVersion: weft.dev/v1alpha1
kind: Service
metadata: { name: details }
spec:
  ports: [{ name: http, port: 9080 }]
  endpoints: [{ address: 127.0.0.1, port: 19004 }]
---
apiVersion: weft.dev/v1alpha1
kind: AuthorizationPolicy
metadata: { name: readers }
spec:
  targetRefs: [{ kind: Service, name: ratings }]
  action: ALLOW
  rules:
    - from: [{ service: reviews, namespace: shop }]
      to: [{ methods: [GET], paths: ["/ratings/*"] }]
      when: [{ header: X-Env, values: [prod] }]
---
apiVersion: weft.dev/v1alpha1
kind: AuthorizationPolicy
metadata: { name: no-admin }
spec:
  targetRefs: [{ kind: Service, name: ratings }]
  action: DENY
  rules:
    - to: [{ paths: ["/ratings/admin/*"] }]
---
apiVersion: weft.dev/v1alpha1
kind: RateLimitPolicy
metadata: { name: per-tenant }
spec:
  targetRefs: [{ kind: Service, name: ratings }]
  limits:
    - key: header:X-Tenant
      requests: 2
      per: 1s
---
apiVersion: weft.dev/v1alpha1
kind: BackendPolicy
metadata: { name: ratings }
spec:
  targetRefs: [{ kind: Service, name: ratings }]
  loadBalancer: { type: ConsistentHash, hashOn: { header: X-User } }
`;

let dir: string;
let b: Bundle;
let ratings: ServiceEntry;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'weft-compiled-'));
  await writeFile(path.join(dir, 'mesh.yaml'), YAML);
  const r = await compile({ dir });
  assert.ok(r.bundle, JSON.stringify(r.diagnostics.filter((d) => d.severity === 'error'), null, 2));
  b = r.bundle;
  ratings = b.spec.services.find((s) => s.id === 'default/ratings')!;
});

after(() => rm(dir, { recursive: true, force: true }));

const reviews = identityOf('reviews', 'shop', 'header');
const prod = { 'x-env': 'prod' };

describe('compiled AuthorizationPolicy', () => {
  it('ALLOW admits the caller it lists (header names as written)', () => {
    assert.deepEqual(authorize(ratings.authorization, b.spec.mesh.authorization.default, { caller: reviews, method: 'GET', path: '/ratings/1', headers: prod }), {
      allowed: true,
      reason: 'allow-policy',
      policy: 'default/readers',
    });
  });

  it('DENY beats ALLOW; other callers, namespaces and unidentified callers are refused', () => {
    const d = authorize(ratings.authorization, 'deny', { caller: reviews, method: 'GET', path: '/ratings/admin/x', headers: prod });
    assert.equal(d.reason, 'deny-policy');
    for (const caller of [identityOf('reviews', 'default', 'header'), identityOf('details', 'shop', 'header'), null]) {
      assert.equal(authorize(ratings.authorization, 'deny', { caller, method: 'GET', path: '/ratings/1', headers: prod }).allowed, false);
    }
  });

  it('MeshConfig default deny applies to a Service without ALLOW policies', () => {
    const details = b.spec.services.find((s) => s.id === 'default/details')!;
    assert.equal(b.spec.mesh.authorization.default, 'deny');
    assert.deepEqual(authorize(details.authorization, b.spec.mesh.authorization.default, { caller: reviews, method: 'GET', path: '/', headers: {} }), {
      allowed: false,
      reason: 'mesh-default',
      default: 'deny',
    });
  });
});

describe('compiled RateLimitPolicy and BackendPolicy', () => {
  it('header key works whatever case the policy wrote; burst defaults to requests', () => {
    const clock = new ManualClock(0);
    const rl = new RateLimiter(ratings.rateLimits, clock.now);
    const r = { caller: reviews, clientAddress: '127.0.0.1', headers: { 'x-tenant': 'a' } };
    assert.equal(rl.check(r).allowed, true);
    assert.equal(rl.check(r).allowed, true);
    assert.deepEqual(rl.check(r), { allowed: false, policy: 'default/per-tenant', retryAfterSeconds: 1 });
  });

  it('consistent hash on a header written in mixed case', () => {
    const lb = ratings.backendPolicy.loadBalancer;
    assert.equal(lb.type, 'ConsistentHash');
    if (lb.type !== 'ConsistentHash') return;
    const balancer = createLoadBalancer(lb, ['127.0.0.1:19001', '127.0.0.1:19002']);
    const key = hashKeyFor(lb.hashOn, { 'x-user': 'ann' }, null);
    assert.equal(key, 'ann');
    const first = balancer.pick({ hashKey: key });
    for (let i = 0; i < 10; i++) assert.equal(balancer.pick({ hashKey: key }), first);
  });
});
