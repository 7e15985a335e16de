/**
 * Egress scope (docs/scale.md): Service.spec.egress and MeshConfig.spec.defaults.egress are
 * validated with positions and did-you-mean hints, lowered in canonical form, and enforced by the
 * router: a host outside the caller's scope is unknown to it (404 WEFT_UNKNOWN_HOST), and
 * `weft explain --from` says it is out of scope.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildRouter, route } from '../../runtime/router/index.js';
import { explainRequest, formatExplainText } from '../../runtime/testing/explain.js';
import { normalizeEgress } from '../../schemas/egress.js';
import { compileYaml } from './backend-helpers.js';

function service(name: string, ns: string, egress?: string): string {
  return `apiVersion: weft.dev/v1alpha1
kind: Service
metadata: { name: ${name}, namespace: ${ns} }
spec:
  ports: [{ name: http, port: 80 }]
  endpoints: [{ address: 10.0.0.1 }]
${egress !== undefined ? `  egress: ${egress}\n` : ''}`;
}

const MESH = (egress: string): string => `apiVersion: weft.dev/v1alpha1
kind: MeshConfig
metadata: { name: mesh }
spec:
  defaults:
    egress: ${egress}
`;

const GET = { method: 'GET', path: '/', query: '', headers: {} };

test('a malformed egress entry is a schema finding at the entry', async () => {
  const r = await compileYaml({ 'a.yaml': service('web', 'shop', '["shop/web", "ratings", "*/x"]') });
  const found = r.diagnostics.filter((d) => d.code === 'WFT301');
  assert.equal(found.length, 2, JSON.stringify(r.diagnostics));
  assert.match(found[0]!.message, /spec\.egress\[1\]: "ratings" is not an egress entry: NAMESPACE\/NAME, NAMESPACE\/\* or \*\/\*/);
  assert.deepEqual([found[0]!.line, found[0]!.column], [7, 24]);
  assert.match(found[1]!.message, /spec\.egress\[2\]/);
});

test('an entry naming no Service is WFT411 with a did-you-mean; an empty namespace is WFT412', async () => {
  const r = await compileYaml({
    'a.yaml': [service('web', 'shop', '["shop/ratngs", "shopp/*", "other/ratings"]'), service('ratings', 'shop')].join('---\n'),
  });
  const codes = r.diagnostics.map((d) => `${d.code}:${d.line}:${d.column}:${d.hint ?? ''}`);
  assert.deepEqual(codes, ['WFT411:7:12:did you mean "shop/ratings"?', 'WFT412:7:27:did you mean "shop/*"?', 'WFT411:7:38:did you mean "shop/ratings"?']);
  assert.equal(r.bundle, null);
  const mesh = await compileYaml({ 'a.yaml': [service('web', 'shop'), MESH('["shop/wbe"]')].join('---\n') });
  assert.deepEqual(mesh.diagnostics.map((d) => `${d.code} ${d.resource} ${d.hint}`), ['WFT411 MeshConfig/default/mesh did you mean "shop/web"?']);
});

test('lower writes each Service its scope in canonical form, the MeshConfig default filling the gaps', async () => {
  const r = await compileYaml({
    'a.yaml': [
      service('web', 'shop', '["shop/ratings", "shop/*", "pay/card", "pay/card"]'),
      service('ratings', 'shop'),
      service('card', 'pay'),
      MESH('["pay/*"]'),
    ].join('---\n'),
  });
  assert.ok(r.bundle, JSON.stringify(r.diagnostics));
  const scopes = Object.fromEntries(r.bundle.spec.services.map((s) => [s.id, s.egress]));
  assert.deepEqual(scopes, { 'pay/card': ['pay/*'], 'shop/ratings': ['pay/*'], 'shop/web': ['pay/card', 'shop/*'] });
  assert.deepEqual(r.bundle.spec.mesh.defaults.egress, ['pay/*']);
  assert.deepEqual(normalizeEgress(['a/b', '*/*']), ['*/*']);
});

test('without any egress written, bundles carry no scope and every host stays reachable', async () => {
  const r = await compileYaml({ 'a.yaml': [service('web', 'shop'), service('card', 'pay')].join('---\n') });
  assert.ok(r.bundle);
  assert.equal(r.bundle.spec.mesh.defaults.egress, undefined);
  assert.ok(r.bundle.spec.services.every((s) => s.egress === undefined));
  assert.equal(route(buildRouter(r.bundle.spec), 'card.pay', 'shop', GET, 'shop/web').kind, 'routed');
});

test('the router answers 404 unknown-host outside the scope, and resolves bare names among the scope', async () => {
  const r = await compileYaml({
    'a.yaml': [
      service('web', 'shop', '["pay/card", "shop/web"]'),
      service('card', 'pay'),
      service('card', 'bank'),
      service('ratings', 'shop'),
    ].join('---\n'),
  });
  assert.ok(r.bundle, JSON.stringify(r.diagnostics));
  const router = buildRouter(r.bundle.spec);
  const out = route(router, 'ratings', 'shop', GET, 'shop/web');
  assert.equal(out.kind, 'not-found');
  assert.equal(out.kind === 'not-found' && out.reason, 'unknown-host');
  assert.equal(out.kind === 'not-found' && out.outOfScope, 'shop/ratings');
  assert.match(out.kind === 'not-found' ? out.message : '', /outside the egress scope of shop\/web/);
  assert.equal(route(router, 'card.bank.svc.cluster.local', 'shop', GET, 'shop/web').kind, 'not-found');
  // "card" is ambiguous in the mesh (pay, bank) but unique in web's scope.
  const card = route(router, 'card', 'shop', GET, 'shop/web');
  assert.equal(card.kind === 'routed' && card.service.entry.id, 'pay/card');
  assert.equal(route(router, 'card', 'shop', GET, null).kind, 'not-found');
  // A caller with no scope of its own (ratings) sees the whole mesh.
  assert.equal(route(router, 'card.bank', 'shop', GET, 'shop/ratings').kind, 'routed');
});

test('weft explain --from says the host is out of scope', async () => {
  const r = await compileYaml({ 'a.yaml': [service('web', 'shop', '["shop/web"]'), service('ratings', 'shop')].join('---\n') });
  assert.ok(r.bundle);
  const report = explainRequest(r.bundle, buildRouter(r.bundle.spec), { method: 'GET', url: 'http://ratings/x', headers: {}, from: 'shop/web' });
  const text = formatExplainText(report);
  assert.match(text, /404/);
  assert.match(text, /outside the egress scope of shop\/web/);
});
