/**
 * lower and emit: defaults, weights, direct responses, source map, digest stability and
 * signatures (WFT601), and the duration helper they rely on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, verify } from 'node:crypto';
import { compileYaml, frontEnd, backEnd, newContext, svc } from './backend-helpers.js';
import { parseDuration } from '../../compiler/duration.js';
import fc from 'fast-check';
import { canonicalJson, canonicalJsonByWalk, digestOf, inCanonicalOrder, keyIdOf, signingPayload } from '../../schemas/canonical.js';

const ROUTE = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: api }
spec:
  parentRefs: [{ kind: Service, name: api }]
  rules:
    - matches: [{ path: { value: /v2 } }]
      backendRefs:
        - { name: api-v2, weight: 90 }
        - { name: api, weight: 10 }
`;
const FILES = { 'a/services.yaml': svc('api') + svc('api-v2'), 'b/routes.yaml': ROUTE };

test('parseDuration follows GEP-2257', () => {
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('1m1ms'), 60_001);
  assert.equal(parseDuration('0s'), 0);
  assert.equal(parseDuration('1h1m1s1ms'), 3_661_001);
  for (const bad of ['', '1', '1d', '1.5s', '123456s', '1h1m1s1ms1h', ' 1s', '-1s']) assert.equal(parseDuration(bad), null, bad);
});

test('the digest ignores file names, folders, document order and the revision', async () => {
  const a = await compileYaml(FILES);
  const b = await compileYaml({ 'z.yaml': ROUTE + '---\n' + svc('api-v2') + svc('api') });
  assert.ok(a.bundle && b.bundle);
  assert.equal(a.bundle.digest, b.bundle.digest);
  assert.notDeepEqual(a.bundle.sources, b.bundle.sources);
  assert.equal(a.bundle.digest, digestOf(a.bundle.spec));
  const ctx = newContext();
  ctx.revision = { commit: 'a'.repeat(40), ref: 'main', path: '' };
  const c = backEnd(await frontEnd(FILES, ctx), ctx);
  assert.equal(c.bundle?.digest, a.bundle.digest);
  assert.deepEqual(c.bundle?.revision, ctx.revision);
});

test('the digest changes when routing changes', async () => {
  const a = await compileYaml(FILES);
  const b = await compileYaml({ ...FILES, 'b/routes.yaml': ROUTE.replace('weight: 90', 'weight: 80') });
  assert.notEqual(a.bundle?.digest, b.bundle?.digest);
});

test('json is canonical JSON of the bundle plus a newline, byte-identical across runs', async () => {
  const a = await compileYaml(FILES);
  const b = await compileYaml(FILES);
  assert.ok(a.bundle && a.json);
  assert.equal(a.json, `${canonicalJson(a.bundle)}\n`);
  assert.equal(a.json, b.json);
  assert.ok(!a.json.includes('/work/'), 'no absolute paths');
});

test('sources point at resources, rules and matches', async () => {
  const r = await compileYaml(FILES);
  const s = r.bundle?.sources ?? {};
  assert.deepEqual(s['HTTPRoute/default/api'], { file: 'b/routes.yaml', line: 1, column: 1 });
  assert.equal(s['default/api#0']?.line, 7);
  assert.equal(s['default/api#0.0']?.line, 7);
  assert.equal(s['Service/default/api-v2']?.file, 'a/services.yaml');
});

test('weights: zero dropped, total is the sum; a Service with no route has no tables', async () => {
  const r = await compileYaml({ ...FILES, 'b/routes.yaml': ROUTE.replace('weight: 10', 'weight: 0') });
  const api = r.bundle?.spec.services.find((s) => s.id === 'default/api');
  const rule = api?.routing.producer?.rules[0];
  assert.deepEqual(rule?.backends.map((b) => [b.service, b.weight]), [['default/api-v2', 90]]);
  assert.equal(rule?.totalWeight, 90);
  assert.deepEqual(r.bundle?.spec.services.find((s) => s.id === 'default/api-v2')?.routing, { producer: null, consumers: {} });
});

test('a route retry without details gets 1 attempt, [503], 25ms; percent mirrors keep their value', async () => {
  const route = ROUTE.replace('      backendRefs:', `      retry: {}
      filters:
        - type: RequestMirror
          requestMirror: { backendRef: { name: api-v2 }, percent: 5 }
      backendRefs:`);
  const r = await compileYaml({ ...FILES, 'b/routes.yaml': route });
  const rule = r.bundle?.spec.services[0]?.routing.producer?.rules[0];
  assert.deepEqual(rule?.retry, { attempts: 1, codes: [503], backoffMs: 25 });
  assert.deepEqual(rule?.filters, [{ type: 'RequestMirror', mirror: { service: 'default/api-v2', port: 9080, percent: 5 } }]);
});

test('a route with two parentRefs on different ports yields matches per port', async () => {
  const r = await compileYaml({
    's.yaml': svc('api', { ports: [80, 8080] }),
    'r.yaml': ROUTE.replace('[{ kind: Service, name: api }]', '[{ kind: Service, name: api, port: 80 }, { kind: Service, name: api, port: 8080 }]').replace(/ {8}- \{ name: api-v2, weight: 90 \}\n/, '').replace('{ name: api, weight: 10 }', '{ name: api, port: 80 }'),
  });
  assert.deepEqual(r.diagnostics, []);
  assert.deepEqual(r.bundle?.spec.services[0]?.routing.producer?.matches.map((m) => m.port), [80, 8080]);
  assert.equal(r.bundle?.spec.services[0]?.routing.producer?.rules.length, 1);
});

test('signing: ed25519 over digest and revision, keyId from the SPKI DER', async () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const r = await compileYaml(FILES, { signKey: pem });
  assert.ok(r.bundle?.signature);
  const { signature } = r.bundle;
  assert.equal(signature.alg, 'ed25519');
  assert.equal(signature.keyId, keyIdOf(publicKey.export({ type: 'spki', format: 'der' })));
  assert.ok(verify(null, signingPayload(r.bundle, signature.issuedAt), publicKey, Buffer.from(signature.value, 'base64')));
  const unsigned = await compileYaml(FILES);
  assert.equal(unsigned.bundle?.digest, r.bundle.digest);
  assert.equal(unsigned.bundle?.signature, undefined);
});

test('a bad signing key is WFT601 and no bundle', async () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  for (const key of ['not a key', rsa, '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n']) {
    const r = await compileYaml(FILES, { signKey: key });
    assert.equal(r.bundle, null);
    assert.deepEqual(r.diagnostics.map((d) => d.code), ['WFT601']);
  }
});

test('the same parent named twice is one attachment', async () => {
  const r = await compileYaml({ ...FILES, 'b/routes.yaml': ROUTE.replace('[{ kind: Service, name: api }]', '[{ kind: Service, name: api }, { name: api }]') });
  assert.deepEqual(r.diagnostics, []);
  assert.deepEqual(r.bundle?.spec.services[0]?.routing.producer?.matches.map((m) => m.id), ['default/api#0.0']);
});

test('canonicalJson equals the key-sorting walk on any JSON value, and lower output takes the fast path', async () => {
  fc.assert(
    fc.property(fc.jsonValue(), (v) => canonicalJson(v) === canonicalJsonByWalk(v)),
    { numRuns: 500, seed: 7 },
  );
  for (const odd of [{ b: 1, a: 2 }, { 10: 'x', 9: 'y' }, { a: undefined, b: 1 }, [undefined, 1], { toJSON: 1 }, Object.create({ inherited: 1 }) as object]) {
    assert.equal(canonicalJson(odd), canonicalJsonByWalk(odd));
  }
  const r = await compileYaml({ ...FILES, 'c/more.yaml': svc('labels').replace('{ address: 10.0.0.1 }', '{ address: 10.0.0.1, labels: { zone: a, app: b, "10": c, "9": d } }') });
  assert.ok(r.bundle);
  assert.ok(inCanonicalOrder(r.bundle.sources), 'sources are built in canonical order');
  const { labels, ...withoutNumericLabels } = r.bundle.spec.services.find((s) => s.name === 'labels')?.endpoints[0] ?? {};
  assert.deepEqual(Object.keys(labels ?? {}), ['9', '10', 'app', 'zone']);
  assert.ok(inCanonicalOrder(withoutNumericLabels));
  assert.equal(r.json, `${canonicalJson(r.bundle)}\n`);
  const plain = await compileYaml(FILES);
  assert.ok(plain.bundle && inCanonicalOrder(plain.bundle.spec), 'the spec is built in canonical order');
});
