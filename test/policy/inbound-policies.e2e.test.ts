/**
 * Inbound policies end to end, on the production path: the caller's app → the caller's proxy
 * (outbound, stamps its identity) → the callee's proxy (inbound: path normalisation,
 * authorization, rate limits) → the callee's app. Three real `weft proxy` processes share one
 * bundle file, as sidecars of one mesh would.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { AuthorizationSettings, BundleSpec, RateLimit } from '../../schemas/bundle.js';
import { bundle, service, spec } from '../helpers/bundle-builder.js';
import { closeAgent, removeDir, getText, metricValue, send, sleep, startApp, startProxy, tempDir, waitForDigest, writeBundle, type App, type ProxyProcess } from '../helpers/proxy-harness.js';

let app: App;
let callee: ProxyProcess;
let productpage: ProxyProcess;
let details: ProxyProcess;
let file: string;
let cleanup: () => Promise<void>;

const policies: AuthorizationSettings = {
  deny: [{ policy: 'default/no-admin', rules: [{ from: null, to: [{ methods: null, paths: ['/admin', '/admin/*'] }], when: null }] }],
  allow: [{ policy: 'default/ratings', rules: [{ from: [{ service: 'productpage', namespace: 'default' }], to: [{ methods: ['GET'], paths: ['/ratings/*', '/a/*'] }], when: null }] }],
};
const perTenant: RateLimit = { policy: 'default/ratings-rl', key: 'header:x-tenant', requests: 1, perMs: 2000, burst: 2 };

function meshSpec(inbound: string | null, authz: AuthorizationSettings, meshDefault: 'allow' | 'deny'): BundleSpec {
  const ratings = service('ratings', { endpoints: inbound ? [inbound] : [] });
  ratings.authorization = authz;
  ratings.rateLimits = [perTenant];
  return spec([service('productpage'), service('details'), ratings], { authorization: { default: meshDefault } });
}

before(async () => {
  app = await startApp('ratings-app');
  const dir = tempDir('weft-policy-');
  cleanup = () => removeDir(dir);
  file = path.join(dir, 'mesh.json');
  await writeBundle(file, bundle(meshSpec(null, policies, 'allow')));
  callee = await startProxy({ service: 'ratings', bundle: file, app: `http://127.0.0.1:${app.port}` });
  // Now that the callee's inbound port is known, publish it as the ratings endpoint.
  const b = bundle(meshSpec(callee.inbound, policies, 'allow'));
  await writeBundle(file, b);
  await waitForDigest(callee.admin, b.digest);
  [productpage, details] = await Promise.all([startProxy({ service: 'productpage', bundle: file }), startProxy({ service: 'details', bundle: file })]);
});

after(async () => {
  await Promise.all([productpage?.stop(), details?.stop(), callee?.stop()]);
  await app?.close();
  closeAgent();
  await cleanup?.();
});

const from = (p: ProxyProcess, target: string, opts: { method?: string; headers?: Record<string, string> } = {}): ReturnType<typeof send> => send(p.outbound!, 'ratings', target, opts);

describe('authorization (two-proxy path)', () => {
  it('allows the listed caller, and the app sees its identity', async () => {
    const n = app.seen.length;
    const r = await from(productpage, '/ratings/1');
    assert.equal(r.status, 200, r.body);
    assert.equal(app.seen.length, n + 1);
    assert.equal(app.seen.at(-1)?.headers['weft-source'], 'productpage.default');
  });

  it('denies a caller no ALLOW rule lists, naming the policy', async () => {
    const n = app.seen.length;
    const r = await from(details, '/ratings/1');
    assert.equal(r.status, 403);
    assert.equal(r.headers['weft-reason'], 'forbidden');
    assert.match(r.body, /default\/ratings/);
    assert.equal(app.seen.length, n, 'nothing forwarded');
  });

  it('denies a method the rule does not list', async () => {
    assert.equal((await from(productpage, '/ratings/1', { method: 'POST' })).status, 403);
  });

  it('DENY wins, and path tricks do not get around it', async () => {
    const n = app.seen.length;
    for (const target of ['/admin', '/admin/users', '/admin/../admin', '/%61dmin', '//admin', '/a/../admin/x', '/a/%2e%2e/admin', '/./admin', '/ratings/../../admin']) {
      const r = await from(productpage, target);
      assert.equal(r.status, 403, `${target}: ${r.status} ${r.body}`);
      assert.match(r.body, /default\/no-admin/, target);
    }
    for (const target of ['/admin%2fusers', '/ratings%2F..%2Fadmin', '/ratings/%00']) {
      const r = await from(productpage, target);
      assert.equal(r.status, 400, `${target}: ${r.status} ${r.body}`);
      assert.equal(r.headers['weft-reason'], 'bad-path');
    }
    assert.equal(app.seen.length, n, `forwarded: ${app.seen.slice(n).map((s) => s.url).join(' ')}`);
  });

  it('forwards the normalised path, query untouched', async () => {
    const r = await from(productpage, '/a//b/./c/../d?x=/../y');
    assert.equal(r.status, 200, r.body);
    assert.equal(app.seen.at(-1)?.url, '/a/b/d?x=/../y');
  });

  it('counts denials by policy', async () => {
    const metrics = await getText(callee.admin, '/metrics');
    assert.ok(metricValue(metrics, 'weft_authz_denied_total', { policy: 'default/no-admin' }) >= 9);
    assert.ok(metricValue(metrics, 'weft_authz_denied_total', { policy: 'default/ratings' }) >= 2);
  });
});

describe('rate limit on the Service (inbound)', () => {
  it('429 with Retry-After past the burst, recovers; denied requests take no tokens', async () => {
    const t1 = { 'x-tenant': 't1' };
    assert.equal((await from(productpage, '/ratings/1', { headers: t1 })).status, 200);
    assert.equal((await from(productpage, '/ratings/1', { headers: t1 })).status, 200);
    const refused = await from(productpage, '/ratings/1', { headers: t1 });
    assert.equal(refused.status, 429);
    assert.ok(['1', '2'].includes(String(refused.headers['retry-after'])), String(refused.headers['retry-after']));
    assert.equal(refused.headers['weft-reason'], 'rate-limited');
    assert.match(refused.body, /default\/ratings-rl/);
    // Another tenant has its own bucket; a request without the header is not limited.
    assert.equal((await from(productpage, '/ratings/1', { headers: { 'x-tenant': 't2' } })).status, 200);
    assert.equal((await from(productpage, '/ratings/1')).status, 200);
    // Refused by authorization first: no token taken from t3.
    for (let i = 0; i < 5; i++) assert.equal((await from(details, '/ratings/1', { headers: { 'x-tenant': 't3' } })).status, 403);
    assert.equal((await from(productpage, '/ratings/1', { headers: { 'x-tenant': 't3' } })).status, 200);
    assert.equal((await from(productpage, '/ratings/1', { headers: { 'x-tenant': 't3' } })).status, 200);
    await sleep(2100);
    assert.equal((await from(productpage, '/ratings/1', { headers: t1 })).status, 200);
    const metrics = await getText(callee.admin, '/metrics');
    assert.equal(metricValue(metrics, 'weft_rate_limited_total', { direction: 'inbound', policy: 'default/ratings-rl' }), 1);
  });
});

describe('mesh default authorization', () => {
  it('default deny: a Service without ALLOW policies refuses everyone (DENY policies still apply)', async () => {
    const b = bundle(meshSpec(callee.inbound, { deny: policies.deny, allow: [] }, 'deny'));
    await writeBundle(file, b);
    await Promise.all([callee, productpage].map((p) => waitForDigest(p.admin, b.digest)));
    const r = await from(productpage, '/ratings/1');
    assert.equal(r.status, 403);
    assert.match(r.body, /mesh default/);
    assert.equal((await from(details, '/anything')).status, 403);

    const open = bundle(meshSpec(callee.inbound, { deny: policies.deny, allow: [] }, 'allow'));
    await writeBundle(file, open);
    await Promise.all([callee, details].map((p) => waitForDigest(p.admin, open.digest)));
    assert.equal((await from(details, '/anything')).status, 200);
    assert.equal((await from(details, '/admin')).status, 403);
  });
});
