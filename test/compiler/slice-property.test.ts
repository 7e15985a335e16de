/**
 * Property: slicing never changes a routing decision. For random meshes (three namespaces,
 * Service names repeated across namespaces, producer and consumer routes, weighted backends,
 * mirrors, header matches, egress scopes on Services and as the MeshConfig default) compiled by
 * the real compiler, every Service's slice answers every request its proxy can send exactly as
 * the whole bundle does: same outcome, same Service, same table, match and rule, and the same
 * caller-side settings for every backend and mirror the rule can send to; the Service's own
 * inbound policies and the mesh settings are the same too. Seeded, so a failure reproduces.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { buildRouter, route, type RouteDecision, type Router } from '../../runtime/router/index.js';
import { sliceBundle, sliceSpec, touchedSlices } from '../../compiler/slice.js';
import { canonicalJson, digestOf } from '../../schemas/canonical.js';
import { compileYaml } from './backend-helpers.js';
import { diffBundles } from '../../compiler/diff/diff.js';
import { formatDiffText } from '../../compiler/diff/format-text.js';

const NAMESPACES = ['a', 'b', 'c'];
const NAMES = ['web', 'api', 'db', 'cache'];

interface Svc {
  ns: string;
  name: string;
  egress: string[] | null;
  /** An endpoint label that changes what a forward to this Service needs, and nothing else. */
  version?: number;
}
interface RouteGen {
  ns: string;
  parent: number;
  rules: { prefix: string; header: boolean; backends: { to: number; weight: number }[]; mirror: number | null }[];
}

const egressEntry = fc.oneof(
  fc.constant('*/*'),
  fc.constantFrom(...NAMESPACES).map((ns) => `${ns}/*`),
  fc.tuple(fc.constantFrom(...NAMESPACES), fc.constantFrom(...NAMESPACES.flatMap(() => NAMES))).map(([ns, n]) => `${ns}/${n}`),
);

const meshArb = fc
  .uniqueArray(fc.tuple(fc.constantFrom(...NAMESPACES), fc.constantFrom(...NAMES)), { minLength: 2, maxLength: 9, selector: ([ns, n]) => `${ns}/${n}` })
  .chain((ids) => {
    const n = ids.length;
    const svcs = fc.tuple(...ids.map(([ns, name]) => fc.option(fc.array(egressEntry, { minLength: 1, maxLength: 3 }), { nil: null }).map((egress): Svc => ({ ns, name, egress }))));
    const rule = fc.record({
      prefix: fc.constantFrom('/', '/x', '/x/y', '/z'),
      header: fc.boolean(),
      backends: fc.array(fc.record({ to: fc.nat(n - 1), weight: fc.constantFrom(0, 1, 5) }), { minLength: 1, maxLength: 3 }),
      mirror: fc.option(fc.nat(n - 1), { nil: null }),
    });
    const routes = fc.array(fc.record({ ns: fc.constantFrom(...NAMESPACES), parent: fc.nat(n - 1), rules: fc.array(rule, { minLength: 1, maxLength: 3 }) }), { maxLength: 6 });
    const meshDefault = fc.option(fc.array(egressEntry, { minLength: 1, maxLength: 2 }), { nil: null });
    const authz = fc.array(fc.nat(n - 1), { maxLength: 3 });
    return fc.record({ svcs, routes, meshDefault, authz });
  });

/** yamlOf writes the generated mesh as policy files; references that would not compile are left out. */
function yamlOf(m: { svcs: Svc[]; routes: RouteGen[]; meshDefault: string[] | null; authz: number[] }): Record<string, string> {
  const ids = new Set(m.svcs.map((s) => `${s.ns}/${s.name}`));
  const nsHas = new Set(m.svcs.map((s) => s.ns));
  // Entries naming missing Services are compile errors (WFT411): keep only resolvable ones.
  const clean = (e: string[]): string[] => e.filter((x) => x === '*/*' || (x.endsWith('/*') ? nsHas.has(x.slice(0, -2)) : ids.has(x)));
  const docs: string[] = [];
  m.svcs.forEach((s, i) => {
    const egress = s.egress ? clean(s.egress) : [];
    docs.push(`apiVersion: weft.dev/v1alpha1
kind: Service
metadata: { name: ${s.name}, namespace: ${s.ns} }
spec:
  ports: [{ name: http, port: 80 }]
  endpoints: [{ address: 10.0.${i}.1, labels: { svc: "${s.ns}-${s.name}"${s.version !== undefined ? `, v: "${s.version}"` : ''} } }]
${egress.length > 0 ? `  egress: ${JSON.stringify(egress)}\n` : ''}`);
  });
  m.routes.forEach((r, ri) => {
    const parent = m.svcs[r.parent]!;
    const rules = r.rules.map((rule) => {
      const backends = rule.backends.map((b) => {
        const t = m.svcs[b.to]!;
        return `        - { name: ${t.name}, namespace: ${t.ns}, weight: ${b.weight} }`;
      });
      const mirrorTo = rule.mirror !== null ? m.svcs[rule.mirror]! : null;
      // A mirror to the route's own parent is a compile error (WFT513).
      const mirror = mirrorTo && !(mirrorTo.ns === parent.ns && mirrorTo.name === parent.name)
        ? `      filters:\n        - type: RequestMirror\n          requestMirror: { backendRef: { name: ${mirrorTo.name}, namespace: ${mirrorTo.ns} } }\n`
        : '';
      return `    - matches: [{ path: { type: PathPrefix, value: ${rule.prefix} }${rule.header ? ', headers: [{ name: x-user, value: beta }]' : ''} }]
${mirror}      backendRefs:
${backends.join('\n')}`;
    });
    docs.push(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: r${ri}, namespace: ${r.ns} }
spec:
  parentRefs: [{ kind: Service, name: ${parent.name}, namespace: ${parent.ns} }]
  rules:
${rules.join('\n')}
`);
  });
  [...new Set(m.authz)].forEach((t, k) => {
    const s = m.svcs[t]!;
    docs.push(`apiVersion: weft.dev/v1alpha1
kind: AuthorizationPolicy
metadata: { name: authz-${k}, namespace: ${s.ns} }
spec:
  targetRefs: [{ kind: Service, name: ${s.name} }]
  action: ALLOW
  rules: [{ to: [{ paths: ["/x/*"] }] }]
`);
  });
  const meshEgress = m.meshDefault ? clean(m.meshDefault) : [];
  if (meshEgress.length > 0) docs.push(`apiVersion: weft.dev/v1alpha1\nkind: MeshConfig\nmetadata: { name: mesh }\nspec:\n  defaults:\n    egress: ${JSON.stringify(meshEgress)}\n`);
  return { 'mesh.yaml': docs.join('---\n') };
}

/** hosts are the names a proxy may put in a Host header: every form, known or not, with ports. */
function hostsFor(m: { svcs: Svc[] }): string[] {
  const out = ['nothing', 'nothing.a', 'web:81'];
  for (const s of m.svcs) out.push(s.name, `${s.name}:80`, `${s.name}.${s.ns}`, `${s.name}.${s.ns}.svc`, `${s.name}.${s.ns}.svc.cluster.local:80`);
  return out;
}

/** view is what a decision means to the proxy: every field it acts on, with the entries it reads. */
function view(router: Router, d: RouteDecision): unknown {
  if (d.kind === 'not-found') return { kind: d.kind, reason: d.reason, service: d.service?.entry.id ?? null };
  const targets = new Set<string>();
  for (const b of d.rule.backends) {
    targets.add(b.service);
    for (const f of b.filters) if (f.type === 'RequestMirror') targets.add(f.mirror.service);
  }
  for (const f of d.rule.filters) if (f.type === 'RequestMirror') targets.add(f.mirror.service);
  const forward = [...targets].sort().map((id) => {
    const e = router.services.get(id)?.entry;
    return e ? { id, ports: e.ports, endpoints: e.endpoints, backendPolicy: e.backendPolicy } : { id, missing: true };
  });
  return { kind: d.kind, service: d.service.entry.id, port: d.port, table: d.tableKind, match: d.match?.source.id ?? null, rule: d.rule, forward };
}

test('a slice answers every request its proxy can send exactly as the whole bundle does', async () => {
  await fc.assert(
    fc.asyncProperty(meshArb, fc.array(fc.tuple(fc.nat(), fc.constantFrom('/', '/x', '/x/y/z', '/z', '/q'), fc.boolean(), fc.constantFrom('GET', 'POST')), { minLength: 10, maxLength: 30 }), async (m, reqs) => {
      const r = await compileYaml(yamlOf(m));
      assert.ok(r.bundle, JSON.stringify(r.diagnostics.filter((d) => d.severity === 'error')));
      const whole = buildRouter(r.bundle.spec);
      const hosts = hostsFor(m);
      for (const s of m.svcs) {
        const self = `${s.ns}/${s.name}`;
        const slice = sliceSpec(r.bundle.spec, self);
        const part = buildRouter(slice);
        assert.deepEqual(slice.mesh, r.bundle.spec.mesh);
        const own = (x: Router): unknown => {
          const e = x.services.get(self)?.entry;
          return e && { authorization: e.authorization, rateLimits: e.rateLimits, egress: e.egress, ports: e.ports };
        };
        assert.deepEqual(own(part), own(whole), `own inbound policies of ${self}`);
        for (const [h, path, beta, method] of reqs) {
          const host = hosts[h % hosts.length]!;
          const req = { method, path, query: '', headers: beta ? { 'x-user': 'beta' } : {} };
          const a = view(whole, route(whole, host, s.ns, req, self));
          const b = view(part, route(part, host, s.ns, req, self));
          assert.deepEqual(b, a, `${self} → ${method} ${host}${path}`);
        }
      }
    }),
    { seed: 1717, numRuns: 60 },
  );
});

test('a slice is a bundle: its digest covers its own spec, and equal slices share one digest', async () => {
  const files = yamlOf({
    svcs: [
      { ns: 'a', name: 'web', egress: ['a/api'] },
      { ns: 'a', name: 'api', egress: null },
      { ns: 'b', name: 'db', egress: null },
      { ns: 'b', name: 'cache', egress: null },
    ],
    routes: [{ ns: 'a', parent: 1, rules: [{ prefix: '/', header: false, backends: [{ to: 2, weight: 1 }], mirror: null }] }],
    meshDefault: null,
    authz: [],
  });
  const r = await compileYaml(files);
  assert.ok(r.bundle);
  const web = sliceBundle(r.bundle, 'a/web');
  assert.equal(web.bundle.digest, digestOf(web.bundle.spec));
  assert.equal(web.json, `${canonicalJson(web.bundle)}\n`);
  assert.deepEqual(web.bundle.spec.services.map((e) => e.id), ['a/api', 'a/web', 'b/db']);
  // The backend a/api reaches is there to be forwarded to, not routed through.
  assert.equal(web.bundle.spec.services.find((e) => e.id === 'b/db')?.routing.producer, null);
  assert.ok(web.bundle.sources['HTTPRoute/a/r0']);
  assert.equal(web.bundle.sources['Service/b/cache'], undefined);
  // db and cache have no scope (*/*) and no inbound policies: their slices are the same bundle.
  assert.equal(sliceBundle(r.bundle, 'b/db').bundle.digest, sliceBundle(r.bundle, 'b/cache').bundle.digest);
  assert.notEqual(sliceBundle(r.bundle, 'b/db').bundle.digest, web.bundle.digest);
});

test('touchedSlices names exactly the Services whose slice a change alters', async () => {
  const edit = fc.record({ route: fc.nat(), rule: fc.nat(), to: fc.nat(), weight: fc.constantFrom(0, 1, 5), authz: fc.option(fc.nat(), { nil: null }), endpoint: fc.option(fc.nat(), { nil: null }), kind: fc.nat(2) });
  await fc.assert(
    fc.asyncProperty(meshArb, edit, async (m, e) => {
      const before = await compileYaml(yamlOf(m));
      const changed = structuredClone(m);
      const r = changed.routes.length > 0 ? changed.routes[e.route % changed.routes.length] : undefined;
      const rule = r?.rules[e.rule % r.rules.length];
      // One kind of edit at a time: a route, an inbound policy, or an endpoint (seen only by callers).
      if (e.kind === 0 && rule) rule.backends[0] = { to: e.to % changed.svcs.length, weight: e.weight };
      if (e.kind === 1 && e.authz !== null) changed.authz = [...changed.authz, e.authz % changed.svcs.length];
      if (e.kind === 2 && e.endpoint !== null) changed.svcs[e.endpoint % changed.svcs.length]!.version = 2;
      const after = await compileYaml(yamlOf(changed));
      assert.ok(before.bundle && after.bundle);
      const ids = [...new Set([...before.bundle.spec.services, ...after.bundle.spec.services].map((s) => s.id))].sort();
      const brute = ids.filter((id) => digestOf(sliceSpec(before.bundle!.spec, id)) !== digestOf(sliceSpec(after.bundle!.spec, id)));
      assert.deepEqual(touchedSlices(before.bundle.spec, after.bundle.spec), brute);
    }),
    { seed: 4242, numRuns: 80 },
  );
});

test('touchedSlices follows backends out of the scope: an endpoint change reaches the callers of its callers', async () => {
  const mesh = (version?: number): Parameters<typeof yamlOf>[0] => ({
    svcs: [
      { ns: 'a', name: 'web', egress: ['a/api'] },
      { ns: 'a', name: 'api', egress: ['a/api'] },
      { ns: 'b', name: 'db', egress: ['b/db'], ...(version !== undefined ? { version } : {}) },
      { ns: 'b', name: 'cache', egress: ['b/cache'] },
    ],
    routes: [{ ns: 'a', parent: 1, rules: [{ prefix: '/', header: false, backends: [{ to: 2, weight: 1 }], mirror: null }] }],
    meshDefault: null,
    authz: [],
  });
  const before = await compileYaml(yamlOf(mesh()));
  const after = await compileYaml(yamlOf(mesh(2)));
  assert.ok(before.bundle && after.bundle);
  // web reaches db through api's route; api calls itself, so it reaches db too; cache does not.
  assert.deepEqual(touchedSlices(before.bundle.spec, after.bundle.spec), ['a/api', 'a/web', 'b/db']);
  // weft diff says it too.
  const report = diffBundles({ ref: 'main', result: before }, { ref: null, result: after });
  assert.deepEqual(report.slicesTouched, ['a/api', 'a/web', 'b/db']);
  assert.match(formatDiffText(report), /^slices touched \(these Services' proxies reload\): 3: /m);
});
