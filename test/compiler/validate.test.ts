/**
 * The validate pass: each kind of schema error lands on the YAML node it is about, with the
 * code, message and hint a user needs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseYaml } from '../../compiler/parse.js';
import { display, newAjv, validate, validatorFor, validatorOrigin } from '../../compiler/validate.js';
import { loadSchema } from '../../schemas/index.js';
import type { Kind } from '../../compiler/resources.js';
import type { Diagnostic, PassContext } from '../../compiler/types.js';

function run(text: string): { diagnostics: Diagnostic[]; count: number } {
  const ctx: PassContext = { options: { dir: '.' }, diagnostics: [], revision: null };
  const documents = parseYaml('r.yaml', text, ctx);
  const { resources } = validate({ documents }, ctx);
  return { diagnostics: ctx.diagnostics, count: resources.length };
}

const ROUTE = (rule: string): string => `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: reviews }
spec:
  parentRefs: [{ name: reviews }]
  rules:
${rule}`;

function at(d: Diagnostic | undefined): [string, number, number] {
  return [d?.code ?? '', d?.line ?? 0, d?.column ?? 0];
}

test('an unknown field is WFT302 at its key, with a did-you-mean hint', () => {
  const { diagnostics, count } = run(ROUTE('    - backendRef:\n        - name: reviews\n'));
  assert.equal(count, 0);
  assert.deepEqual(diagnostics.map(at), [['WFT302', 7, 7]]);
  assert.equal(diagnostics[0]?.hint, 'did you mean "backendRefs"?');
  assert.equal(diagnostics[0]?.resource, 'HTTPRoute/default/reviews');
  const far = run(ROUTE('    - zzz: 1\n')).diagnostics[0];
  assert.match(far?.hint ?? '', /^known fields: name, matches, filters/);
  const merge = run(ROUTE('    - &r { backendRefs: [{ name: reviews }] }\n    - <<: *r\n')).diagnostics;
  assert.deepEqual(merge.map(at), [['WFT302', 8, 7]]);
  assert.match(merge[0]?.hint ?? '', /merge keys/);
});

test('a missing field is WFT303 at the key of the object that should hold it', () => {
  const { diagnostics } = run('apiVersion: weft.dev/v1alpha1\nkind: Service\nmetadata: { name: a }\nspec:\n  endpoints: []\n');
  assert.deepEqual(diagnostics.map(at), [['WFT303', 4, 1]]);
  assert.match(diagnostics[0]?.message ?? '', /"ports"/);
  const item = run('apiVersion: weft.dev/v1alpha1\nkind: Service\nmetadata: { name: a }\nspec:\n  ports:\n    - port: 80\n').diagnostics;
  assert.deepEqual(item.map(at), [['WFT303', 6, 7]]);
});

test('a bad value is WFT301 at the value, never at the document start', () => {
  const { diagnostics } = run(ROUTE('    - backendRefs:\n        - name: reviews\n          weight: 1000001\n'));
  assert.deepEqual(diagnostics.map(at), [['WFT301', 9, 19]]);
  assert.match(diagnostics[0]?.message ?? '', /^spec\.rules\[0\]\.backendRefs\[0\]\.weight: 1000001 is out of range/);
  const method = run(ROUTE('    - matches: [{ method: get }]\n')).diagnostics;
  assert.deepEqual(method.map(at), [['WFT301', 7, 27]]);
  assert.equal(method[0]?.hint, 'did you mean "GET"?');
});

test('durations are WFT304, paths WFT305, names WFT306: one finding per node', () => {
  const d = run(ROUTE('    - timeouts: { request: 1.5s, backendRequest: 10 }\n      retry: { backoff: 100us }\n')).diagnostics;
  assert.deepEqual(d.map(at), [['WFT304', 7, 28], ['WFT304', 7, 50], ['WFT304', 8, 25]]);
  const p = run(ROUTE('    - matches:\n        - path: { value: /a/../b }\n        - path: { type: Exact, value: "no-slash" }\n        - path: { type: RegularExpression, value: "^/a(b|c)$" }\n')).diagnostics;
  assert.deepEqual(p.map(at), [['WFT305', 8, 26], ['WFT305', 9, 39]]);
  assert.match(p[0]?.message ?? '', /must not contain \/\.\/ or \/\.\.\//);
  assert.match(p[1]?.message ?? '', /must start with \//);
  const n = run('apiVersion: weft.dev/v1alpha1\nkind: Service\nmetadata: { name: reviews.v1, namespace: Shop }\nspec:\n  ports: [{ name: http, port: 80 }]\n').diagnostics;
  assert.deepEqual(n.map(at), [['WFT306', 3, 19], ['WFT306', 3, 42]]);
});

test('filter fields must match the filter type', () => {
  const d = run(ROUTE('    - filters:\n        - type: RequestHeaderModifier\n          urlRewrite: { hostname: x }\n')).diagnostics;
  assert.deepEqual(d.map((x) => x.code).sort(), ['WFT301', 'WFT303']);
  assert.deepEqual(at(d.find((x) => x.code === 'WFT301')), ['WFT301', 9, 11]);
});

test('Gateway API limits: 16 rules per route, 128 matches per route', () => {
  const rules = Array.from({ length: 17 }, () => '    - backendRefs: [{ name: reviews }]\n').join('');
  assert.deepEqual(run(ROUTE(rules)).diagnostics.map(at), [['WFT301', 6, 3]]);
  const many = Array.from({ length: 3 }, () => `    - matches: [${Array.from({ length: 60 }, () => '{ method: GET }').join(', ')}]\n`).join('');
  const d = run(ROUTE(many)).diagnostics;
  assert.deepEqual(d.map(at), [['WFT301', 6, 3]]);
  assert.match(d[0]?.message ?? '', /180 matches/);
});

test('namespace defaults to "default"; schemas compile once per process', () => {
  const ctx: PassContext = { options: { dir: '.' }, diagnostics: [], revision: null };
  const documents = parseYaml('s.yaml', 'apiVersion: weft.dev/v1alpha1\nkind: Service\nmetadata: { name: a }\nspec:\n  ports: [{ name: http, port: 80 }]\n', ctx);
  const { resources } = validate({ documents }, ctx);
  assert.equal(resources[0]?.metadata.namespace, 'default');
  assert.equal(resources[0]?.origin.file, 's.yaml');
  assert.equal(validatorFor('Service'), validatorFor('Service'));
});

test('display writes JSON Pointers the way users read paths', () => {
  assert.equal(display('/spec/rules/0/backendRefs/12/weight'), 'spec.rules[0].backendRefs[12].weight');
  assert.equal(display('/metadata/labels/app.kubernetes.io~1name'), 'metadata.labels["app.kubernetes.io/name"]');
  assert.equal(display(''), 'the document');
});

test('the build generates every kind validator, and they report what a run-time compile of the schema reports', () => {
  const bad: Record<Kind, unknown> = {
    Service: { apiVersion: 'weft.dev/v1alpha1', kind: 'Service', metadata: { name: 'A_b', namespace: 'x.y' }, spec: { ports: [{ name: 'http', port: 70000 }], endpoints: [{ address: 'a b' }], extra: 1 } },
    HTTPRoute: { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'r' }, spec: { rules: [{ matches: [{ path: { type: 'Prefix', value: 'x' } }], timeouts: { request: '5 seconds' }, backendRefs: [{ name: '', weight: -1 }] }] } },
    GRPCRoute: { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GRPCRoute', metadata: { name: 'g' }, spec: { rules: [{ matches: [{ method: { type: 'Exact' } }] }] } },
    BackendPolicy: { apiVersion: 'weft.dev/v1alpha1', kind: 'BackendPolicy', metadata: { name: 'b' }, spec: { targetRefs: [], loadBalancer: { type: 'Fastest' } } },
    RateLimitPolicy: { apiVersion: 'weft.dev/v1alpha1', kind: 'RateLimitPolicy', metadata: { name: 'l' }, spec: { targetRefs: [{ kind: 'Service', name: 's' }], limits: [{ key: 'who', requests: 0, per: '1d' }] } },
    AuthorizationPolicy: { apiVersion: 'weft.dev/v1alpha1', kind: 'AuthorizationPolicy', metadata: { name: 'z', creationTimestamp: 'yesterday' }, spec: { targetRefs: [{ kind: 'Service', name: 's' }], action: 'MAYBE', rules: [{ to: [{}] }] } },
    Fault: { apiVersion: 'weft.dev/v1alpha1', kind: 'Fault', metadata: { name: 'f' }, spec: { abort: { status: 99, percent: 101 } } },
    MeshConfig: { apiVersion: 'weft.dev/v1alpha1', kind: 'MeshConfig', metadata: { name: 'm' }, spec: { defaults: { timeouts: { request: 'soon' } }, mtls: { mode: 'LAX' } } },
    RouteTest: { apiVersion: 'weft.dev/v1alpha1', kind: 'RouteTest', metadata: { name: 't' }, spec: { cases: [{ request: {} }] } },
  };
  const ajv = newAjv();
  for (const kind of Object.keys(bad) as Kind[]) {
    assert.equal(validatorOrigin(kind), 'generated', `${kind}: npm run build writes a current validator`);
    const generated = validatorFor(kind);
    const compiled = ajv.compile(loadSchema(kind.toLowerCase()) as object);
    assert.equal(generated(bad[kind]), false);
    assert.equal(compiled(bad[kind]), false);
    assert.ok((generated.errors ?? []).length > 0);
    assert.deepEqual(generated.errors, compiled.errors, kind);
  }
});
