/**
 * Gateway API precedence as lower decides it: one test per tie-break step of
 * compiler/precedence.ts, across rules, routes and files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileYaml, svc } from './backend-helpers.js';
import { compareEntries, matchKey, normalizeMatch, normalizePrefix } from '../../compiler/precedence.js';

function route(name: string, rules: string, extra: { namespace?: string; created?: string } = {}): string {
  const meta = [`name: ${name}`];
  if (extra.namespace) meta.push(`namespace: ${extra.namespace}`);
  if (extra.created) meta.push(`creationTimestamp: "${extra.created}"`);
  return `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { ${meta.join(', ')} }
spec:
  parentRefs: [{ kind: Service, name: api }]
  rules:
${rules}---
`;
}

const rule = (match: string): string => `    - matches:\n        - ${match}\n      backendRefs: [{ name: api }]\n`;

async function order(files: Record<string, string>): Promise<string[]> {
  const r = await compileYaml({ 'svc.yaml': svc('api'), ...files });
  assert.ok(r.bundle, r.diagnostics.map((d) => `${d.code} ${d.message}`).join('\n'));
  const api = r.bundle.spec.services.find((s) => s.id === 'default/api');
  return api?.routing.producer?.matches.map((m) => m.id) ?? [];
}

test('Exact before RegularExpression before PathPrefix, whatever the written order', async () => {
  const ids = await order({
    'r.yaml': route('r', rule('{ path: { type: PathPrefix, value: /a/very/long/prefix } }') + rule('{ path: { type: RegularExpression, value: "/a.*" } }') + rule('{ path: { type: Exact, value: /a } }')),
  });
  assert.deepEqual(ids, ['default/r#2.0', 'default/r#1.0', 'default/r#0.0']);
});

test('longer regex first; longer prefix first; trailing slash does not count', async () => {
  const ids = await order({
    'r.yaml': route('r', rule('{ path: { type: RegularExpression, value: "/x" } }') + rule('{ path: { type: RegularExpression, value: "/x/[0-9]+" } }') + rule('{ path: { type: PathPrefix, value: /ab/ } }') + rule('{ path: { type: PathPrefix, value: /abc } }')),
  });
  assert.deepEqual(ids, ['default/r#1.0', 'default/r#0.0', 'default/r#3.0', 'default/r#2.0']);
});

test('a method beats no method at equal paths', async () => {
  const ids = await order({ 'r.yaml': route('r', rule('{ path: { value: /p } }') + rule('{ path: { value: /p }, method: POST }')) });
  assert.deepEqual(ids, ['default/r#1.0', 'default/r#0.0']);
});

test('more headers beat fewer; then more query params', async () => {
  const ids = await order({
    'r.yaml': route(
      'r',
      rule('{ path: { value: /p }, queryParams: [{ name: a, value: "1" }, { name: b, value: "2" }] }') +
        rule('{ path: { value: /p }, headers: [{ name: h, value: "1" }] }') +
        rule('{ path: { value: /p }, queryParams: [{ name: a, value: "1" }] }'),
    ),
  });
  assert.deepEqual(ids, ['default/r#1.0', 'default/r#0.0', 'default/r#2.0']);
});

test('method outranks headers, which outrank query params (step order)', async () => {
  const ids = await order({
    'r.yaml': route('r', rule('{ path: { value: /p }, headers: [{ name: h, value: "1" }, { name: i, value: "1" }] }') + rule('{ path: { value: /p }, method: GET }')),
  });
  assert.deepEqual(ids, ['default/r#1.0', 'default/r#0.0']);
});

test('across routes: the oldest creationTimestamp wins; routes without one come after', async () => {
  const ids = await order({
    'a.yaml': route('a-none', rule('{ path: { value: /p } }')),
    'b.yaml': route('b-new', rule('{ path: { value: /p } }'), { created: '2024-06-01T00:00:00Z' }),
    'c.yaml': route('c-old', rule('{ path: { value: /p } }'), { created: '2023-01-01T00:00:00Z' }),
  });
  assert.deepEqual(ids, ['default/c-old#0.0', 'default/b-new#0.0', 'default/a-none#0.0']);
});

test('across routes with equal timestamps: namespace/name alphabetical, not file order', async () => {
  const ids = await order({
    'a.yaml': route('zeta', rule('{ path: { value: /p } }')),
    'b.yaml': route('alpha', rule('{ path: { value: /p } }')),
  });
  assert.deepEqual(ids, ['default/alpha#0.0', 'default/zeta#0.0']);
});

test('within a route: rule order, then match order', async () => {
  const ids = await order({
    'r.yaml': route('r', `    - matches:\n        - { path: { value: /q } }\n        - { path: { value: /p } }\n      backendRefs: [{ name: api }]\n` + rule('{ path: { value: /p } }')),
  });
  assert.deepEqual(ids, ['default/r#0.0', 'default/r#0.1', 'default/r#1.0']);
});

test('the index lists, per path, ascending positions into matches', async () => {
  const r = await compileYaml({
    'svc.yaml': svc('api'),
    'r.yaml': route('r', rule('{ path: { value: /p/ } }') + rule('{ path: { type: Exact, value: /p } }') + rule('{ path: { value: /p }, method: GET }') + rule('{ path: { type: RegularExpression, value: "/p.*" } }')),
  });
  const table = r.bundle?.spec.services[0]?.routing.producer;
  assert.ok(table);
  assert.deepEqual(table.index, { exact: { '/p': [0] }, prefix: { '/p': [2, 3] }, regex: [1] });
});

test('compareEntries is a total order: antisymmetric on distinct entries', () => {
  const att = { route: {} as never, parent: 'd/a', parentIndex: 0, port: null, consumer: false, table: 'd' };
  const mk = (routeKey: string, ruleIndex: number, created: number | null) => ({
    attachment: att, rule: {}, ruleIndex, matchIndex: 0, implicit: false, match: normalizeMatch({ path: { value: '/x' } }, null), created, routeKey, grpc: null,
  });
  const es = [mk('d/b', 0, null), mk('d/a', 1, 5), mk('d/a', 0, 5), mk('d/c', 0, 1)];
  for (const a of es) for (const b of es) if (a !== b) assert.equal(Math.sign(compareEntries(a, b)), -Math.sign(compareEntries(b, a)));
  assert.deepEqual([...es].sort(compareEntries).map((e) => `${e.routeKey}#${e.ruleIndex}`), ['d/c#0', 'd/a#0', 'd/a#1', 'd/b#0']);
});

test('normalisation: prefixes lose trailing slashes, header names lower-case, repeated names keep the first', () => {
  assert.equal(normalizePrefix('/a/b//'), '/a/b');
  assert.equal(normalizePrefix('/'), '/');
  const m = normalizeMatch({ headers: [{ name: 'X-A', value: '1' }, { name: 'x-a', value: '2' }] }, 80);
  assert.deepEqual(m.headers, [{ type: 'Exact', name: 'x-a', value: '1' }]);
  assert.deepEqual(m.path, { type: 'PathPrefix', value: '/' });
  assert.equal(matchKey(normalizeMatch({ path: { value: '/a/' }, headers: [{ name: 'B', value: '1' }, { name: 'a', value: '2' }] }, null)),
    matchKey(normalizeMatch({ path: { type: 'PathPrefix', value: '/a' }, headers: [{ name: 'a', value: '2' }, { name: 'b', value: '1' }] }, null)));
});
