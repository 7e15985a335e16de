/** analyze: the scope of shadowing (per parent and caller namespace) and finer points of the checks. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileYaml, svc } from './backend-helpers.js';

function route(name: string, namespace: string, parent: string, body: string): string {
  return `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: ${name}, namespace: ${namespace} }
spec:
  parentRefs: [{ kind: Service, name: ${parent}, namespace: shop }]
  rules:
${body}---
`;
}
const SAME = '    - matches: [{ path: { value: /a } }]\n      backendRefs: [{ name: api, namespace: shop }]\n';
const SERVICES = svc('api', { namespace: 'shop' }) + svc('other', { namespace: 'shop' });
const codes = (r: { diagnostics: { code: string }[] }): string[] => r.diagnostics.map((d) => d.code);

test('identical matches in the producer table and a consumer table do not shadow each other', async () => {
  const r = await compileYaml({ 's.yaml': SERVICES, 'r.yaml': route('p', 'shop', 'api', SAME) + route('c', 'web', 'api', SAME) });
  assert.deepEqual(codes(r), []);
});

test('identical matches on different parents do not shadow each other', async () => {
  const r = await compileYaml({ 's.yaml': SERVICES, 'r.yaml': route('p', 'shop', 'api', SAME) + route('q', 'shop', 'other', SAME) });
  assert.deepEqual(codes(r), []);
});

test('two consumer routes of one namespace shadow each other; the alphabetically first wins', async () => {
  const r = await compileYaml({ 's.yaml': SERVICES, 'r.yaml': route('zz', 'web', 'api', SAME) + route('aa', 'web', 'api', SAME) });
  assert.deepEqual(codes(r), ['WFT501']);
  assert.match(r.diagnostics[0]?.message ?? '', /web\/zz.*web\/aa/);
});

test('a match that differs only by method is not shadowed, a later duplicate rule in one route is', async () => {
  const body = SAME + '    - matches: [{ path: { value: /a }, method: GET }]\n      backendRefs: [{ name: api, namespace: shop }]\n' + SAME;
  const r = await compileYaml({ 's.yaml': SERVICES, 'r.yaml': route('p', 'shop', 'api', body) });
  assert.deepEqual(codes(r), ['WFT501']);
  assert.equal(r.diagnostics[0]?.line, 11);
});

test('RequestRedirect with URLRewrite is WFT507; ReplacePrefixMatch on a rule without matches is fine', async () => {
  const body = `    - filters:
        - { type: RequestRedirect, requestRedirect: { path: { type: ReplacePrefixMatch, replacePrefixMatch: /x } } }
        - { type: URLRewrite, urlRewrite: { hostname: example.org } }
`;
  const r = await compileYaml({ 's.yaml': SERVICES, 'r.yaml': route('p', 'shop', 'api', body) });
  assert.deepEqual(codes(r), ['WFT507']);
});

test('backendRequest against the MeshConfig request timeout, and 0s request disables the check', async () => {
  const mesh = 'apiVersion: weft.dev/v1alpha1\nkind: MeshConfig\nmetadata: { name: mesh }\nspec:\n  defaults: { timeouts: { request: 1s } }\n';
  const body = (t: string): string => `    - backendRefs: [{ name: api, namespace: shop }]\n      timeouts: ${t}\n`;
  const over = await compileYaml({ 'm.yaml': mesh, 's.yaml': SERVICES, 'r.yaml': route('p', 'shop', 'api', body('{ backendRequest: 2s }')) });
  assert.deepEqual(codes(over), ['WFT503']);
  const zero = await compileYaml({ 'm.yaml': mesh, 's.yaml': SERVICES, 'r.yaml': route('p', 'shop', 'api', body('{ request: 0s, backendRequest: 2s }')) });
  assert.deepEqual(codes(zero), []);
});

test('a mirror to another Service is fine; to the parent through a per-backend filter is a loop', async () => {
  const body = `    - backendRefs:
        - name: other
          namespace: shop
          filters:
            - type: RequestMirror
              requestMirror: { backendRef: { name: api, namespace: shop } }
`;
  const r = await compileYaml({ 's.yaml': SERVICES, 'r.yaml': route('p', 'shop', 'api', body) });
  assert.deepEqual(codes(r), ['WFT513']);
});
