/** A reference to a Service that does not exist is usually a typo: the finding names the closest one. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileYaml, svc } from './backend-helpers.js';

const route = (parent: string, backend: string): string => `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: r }
spec:
  parentRefs: [{ kind: Service, name: ${parent} }]
  rules:
    - backendRefs: [{ name: ${backend}, port: 9080 }]
`;

test('missing parent and backend Services get a did-you-mean hint from the same namespace', async () => {
  const r = await compileYaml({ 'svc.yaml': [svc('reviews'), svc('ratings'), svc('reviews', { namespace: 'other' })].join('---\n'), 'route.yaml': route('reveiws', 'ratngs') });
  const byCode = new Map(r.diagnostics.map((d) => [d.code, d]));
  assert.equal(byCode.get('WFT402')?.hint, 'did you mean "reviews"?');
  assert.equal(byCode.get('WFT403')?.hint, 'did you mean "ratings"?');
});

test('no hint when nothing is close', async () => {
  const r = await compileYaml({ 'svc.yaml': svc('reviews'), 'route.yaml': route('reviews', 'zzzzzzzz') });
  const d = r.diagnostics.find((x) => x.code === 'WFT403');
  assert.ok(d);
  assert.equal(d.hint, null);
});
