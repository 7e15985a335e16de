/**
 * simulate and diffSpecs on hand-built bundles (test/helpers/bundle-builder.ts): the cases the
 * example mesh does not reach (consumer routes, path normalisation before authorization, direct
 * responses, faults, method precedence) and the policy sections of a diff.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { bundle, service, spec } from '../helpers/bundle-builder.js';
import { buildRouter } from '../../runtime/router/index.js';
import { simulate, type Branch } from '../../runtime/testing/simulate.js';
import { explainRequest } from '../../runtime/testing/explain.js';
import { diffSpecs } from '../../compiler/diff/diff.js';
import { formatDiffText } from '../../compiler/diff/format-text.js';
import type { ServiceEntry } from '../../schemas/bundle.js';

function mesh(): ServiceEntry[] {
  const api = service('api', {
    producer: [
      { route: 'api', matches: [{ path: { type: 'PathPrefix', value: '/v1' }, method: 'POST' }], backends: [{ service: 'writer' }] },
      { route: 'api', matches: [{ path: { type: 'PathPrefix', value: '/v1' } }], backends: [{ service: 'reader' }] },
      { route: 'api', matches: [{ path: { type: 'Exact', value: '/zero' } }], backends: [{ service: 'reader', weight: 0 }] },
      { route: 'api', matches: [{ path: { type: 'Exact', value: '/none' } }] },
      {
        route: 'api',
        matches: [{ path: { type: 'Exact', value: '/split' } }],
        backends: [
          { service: 'reader', filters: [{ type: 'RequestHeaderModifier', modifier: { set: [{ name: 'x-branch', value: 'reader' }], add: [], remove: [] } }] },
          { service: 'writer', filters: [{ type: 'Fault', name: 'writer-down', fault: { delay: null, abort: { status: 503, percent: 100 } } }] },
        ],
      },
      {
        route: 'api',
        matches: [{ path: { type: 'Exact', value: '/fault' } }],
        filters: [{ type: 'Fault', name: 'boom', fault: { delay: { ms: 100, percent: 50 }, abort: { status: 418, percent: 100 } } }],
        backends: [{ service: 'reader' }],
      },
    ],
    consumers: { team: [{ route: 'team-api', matches: [{}], backends: [{ service: 'default/canary' }] }] },
  });
  const admin = service('admin', { endpoints: ['127.0.0.1:1'] });
  admin.authorization.deny.push({ policy: 'default/no-admin', rules: [{ from: null, to: [{ methods: null, paths: ['/admin*'] }], when: null }] });
  return [api, admin, service('writer', { endpoints: ['127.0.0.1:2'] }), service('reader', { endpoints: ['127.0.0.1:3'] }), service('canary', { endpoints: ['127.0.0.1:4'] }), service('caller', { namespace: 'team' })];
}

const router = buildRouter(spec(mesh()));
const branch = (url: string, from: string | null = null, method = 'GET'): Branch | undefined => {
  const o = simulate(router, { method, url, headers: {}, from }).outcome;
  return o.kind === 'forwarded' ? o.branches[0] : undefined;
};

test('consumer routes apply to callers in their namespace only', () => {
  assert.equal(branch('http://api.default/v1/x', 'team/caller')?.backend, 'default/canary');
  assert.equal(branch('http://api.default/v1/x', null)?.backend, 'default/reader');
  const rep = explainRequest(bundle(spec(mesh())), router, { method: 'GET', url: 'http://api.default/v1', headers: {}, from: 'team/caller' });
  assert.equal(rep.table, 'callers in team');
  assert.equal(rep.chosen?.route, 'team/team-api');
});

test('method precedence is named; direct responses and a 100% fault answer locally; partial faults are listed', () => {
  const sim = simulate(router, { method: 'POST', url: 'http://api/v1/x', headers: {}, from: null });
  assert.equal(sim.outcome.kind === 'forwarded' && sim.outcome.branches[0]?.backend, 'default/writer');
  assert.deepEqual(
    sim.runnersUp.map((r) => r.decidedBy),
    ['method match: POST before any method'],
  );
  const status = (url: string) => {
    const o = simulate(router, { method: 'GET', url, headers: {}, from: null }).outcome;
    return o.kind === 'local' ? o.status : null;
  };
  assert.equal(status('http://api/zero'), 500);
  assert.equal(status('http://api/none'), 500);
  assert.equal(status('http://api/elsewhere'), 404);
  assert.equal(status('http://nosuch/'), 404);
  const f = simulate(router, { method: 'GET', url: 'http://api/fault', headers: {}, from: null });
  assert.equal(f.outcome.kind === 'local' && f.outcome.status, 418);
  assert.deepEqual(f.partialFaults, ['boom: delay 100ms for 50% of requests']);
});

test('paths are normalised before routing and before authorization, as the proxies do', () => {
  const b = branch('http://admin/public/../admin/x?y=1');
  assert.equal(b?.status, 403);
  assert.equal(b?.request.path, '/admin/x?y=1');
  assert.equal(branch('http://admin/public/x')?.status, null);
  const refused = simulate(router, { method: 'GET', url: 'http://admin/a%2Fb', headers: {}, from: null }).outcome;
  assert.equal(refused.kind === 'local' && refused.status, 400, 'an encoded slash is refused by the caller\'s proxy, never routed');
  assert.equal(branch('http://api.default/x/../v1/x', 'team/caller')?.backend, 'default/canary', 'the normalised path is what gets routed');
});

test('diffSpecs reports authorization, rate limit, backend policy, endpoint and mesh changes', () => {
  const before = mesh();
  const after = mesh();
  const admin = after.find((s) => s.name === 'admin')!;
  admin.authorization.deny = [];
  admin.authorization.allow.push({ policy: 'default/ops', rules: [{ from: [{ service: 'caller', namespace: 'team' }], to: null, when: null }] });
  admin.rateLimits.push({ policy: 'default/admin', key: 'caller', requests: 5, perMs: 1000, burst: 5 });
  admin.backendPolicy.loadBalancer = { type: 'LeastRequest' };
  admin.endpoints.push({ address: '127.0.0.1', port: 9, labels: { v: '2' } });
  const text = formatDiffText({
    base: { ref: 'main', commit: null, digest: 'a', errors: 0, warnings: 0, missing: false },
    head: { ref: null, commit: null, digest: 'b', errors: 0, warnings: 0, missing: false },
    sameDigest: false,
    traffic: diffSpecs(spec(before), spec(after, { authorization: { default: 'deny' } })),
    newDiagnostics: [],
    resolvedDiagnostics: 0,
  });
  assert.match(text, /^~ mesh\n {4}~ authorization\.default: allow → deny$/m);
  assert.match(text, /^~ service admin$/m);
  assert.match(text, /^ {4}endpoints: \+ 127\.0\.0\.1:9 \{v=2\}$/m);
  assert.match(text, /^ {4}backend policy ~ loadBalancer\.type: RoundRobin → LeastRequest$/m);
  assert.match(text, /^ {4}authorization \+ ALLOW default\/ops: from team\/caller$/m);
  assert.match(text, /^ {4}authorization - DENY default\/no-admin: from anyone to any method \/admin\*$/m);
  assert.match(text, /^ {4}rate limit \+ default\/admin caller: caller: 5\/1s burst 5 \(default\/admin\)$/m);
  assert.deepEqual(diffSpecs(spec(before), spec(mesh())), { mesh: [], servicesAdded: [], servicesRemoved: [], servicesChanged: [] }, 'equal specs: no changes');
});

test('diffSpecs: a precedence change between unchanged matches is reported as such', () => {
  const two = (first: string, second: string) =>
    spec([
      service('api', {
        producer: [
          { route: first, matches: [{ path: { type: 'PathPrefix', value: '/' } }], backends: [{ service: 'a' }] },
          { route: second, matches: [{ path: { type: 'PathPrefix', value: '/' } }], backends: [{ service: 'b' }] },
        ],
      }),
      service('a'),
      service('b'),
    ]);
  const d = diffSpecs(two('x', 'y'), two('y', 'x'));
  // Each route keeps its backend; only which one wins changed.
  const t = d.servicesChanged[0]?.routing[0];
  assert.equal(t?.matches.filter((m) => m.change !== 'changed').length, 0);
  assert.equal(t?.reordered.length, 1);
  assert.match(t?.reordered[0] ?? '', /^default\/[xy] prefix \/$/);
});

test('routing sees the headers the caller proxy stamps before routing (weft-source, X-Forwarded-*), not Host', () => {
  const r = buildRouter(spec([
    service('web', { endpoints: ['127.0.0.1:1'] }),
    service('internal', { endpoints: ['127.0.0.1:2'] }),
    service('edge', {
      producer: [
        { route: 'from-web', matches: [{ headers: [{ type: 'Exact', name: 'weft-source', value: 'web.default' }] }], backends: [{ service: 'internal' }] },
        { route: 'rest', matches: [{ path: { type: 'PathPrefix', value: '/' } }], backends: [{ service: 'web' }] },
      ],
    }),
  ]));
  const to = (from: string | null, headers: Record<string, string> = {}): string | undefined => {
    const o = simulate(r, { method: 'GET', url: 'http://edge/x', headers, from }).outcome;
    return o.kind === 'forwarded' ? o.branches[0]?.backend : undefined;
  };
  assert.equal(to('default/web'), 'default/internal', 'the stamped caller is matched');
  assert.equal(to(null, { 'weft-source': 'web.default' }), 'default/web', 'an app cannot forge weft-source: the proxy replaces it');
  const o = simulate(r, { method: 'GET', url: 'http://edge/x', headers: {}, from: 'default/web' }).outcome;
  const seen = o.kind === 'forwarded' ? o.branches[0]?.request.headers : undefined;
  assert.equal(seen?.['x-forwarded-proto'], 'http');
  assert.equal(seen?.['x-forwarded-host'], 'edge');
  assert.equal(seen?.host, undefined, 'Host is the authority, not a header');
});

test('per-backend filters go through the same FILTERS table: edits stay on their branch, a 100% fault answers for its backend', () => {
  const o = simulate(router, { method: 'GET', url: 'http://api/split', headers: {}, from: null }).outcome;
  assert.equal(o.kind, 'forwarded');
  const [reader, writer] = o.kind === 'forwarded' ? o.branches : [];
  assert.equal(reader?.request.headers['x-branch'], 'reader');
  assert.equal(reader?.status, null);
  assert.equal(writer?.request.headers['x-branch'], undefined);
  assert.equal(writer?.status, 503);
  assert.match(writer?.reason ?? '', /fault writer-down aborts every request/);
});

test('the headers routing sees are the outbound proxy\'s: hop-by-hop (and Connection-named) removed, X-Forwarded-* appended', () => {
  const o = simulate(router, { method: 'GET', url: 'http://api/v1/x', headers: { connection: 'x-secret', 'x-secret': 's', 'x-forwarded-for': '198.51.100.7' }, from: null }).outcome;
  const h = o.kind === 'forwarded' ? o.branches[0]?.request.headers : undefined;
  assert.equal(h?.['x-secret'], undefined);
  assert.equal(h?.['connection'], undefined);
  assert.equal(h?.['x-forwarded-for'], '198.51.100.7, 192.0.2.10');
  assert.equal(h?.['x-forwarded-proto'], 'http');
});

test('a Service with no endpoints in git is fed by registration: simulation delivers to its registered instances', () => {
  const o = simulate(buildRouter(spec([service('front', { producer: [{ route: 'front', matches: [{}], backends: [{ service: 'back' }] }] }), service('back')])), {
    method: 'GET',
    url: 'http://front/x',
    headers: {},
    from: null,
  }).outcome;
  assert.equal(o.kind, 'forwarded');
  const b = o.kind === 'forwarded' ? o.branches[0] : undefined;
  assert.equal(b?.status, null, 'delivered');
  assert.match(b?.reason ?? '', /^delivered to its registered instances \(back lists no endpoints in git\)$/);
});
