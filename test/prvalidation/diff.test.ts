/**
 * weft diff against real git repositories with branches: a PR that shifts a weight, adds a
 * route, inserts a rule above another, breaks a reference, or changes nothing for traffic; plus
 * the markdown size budget on a synthetic diff too large for one comment.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { git, makeRepo, MESH, weft } from './helpers.js';
import { diffSpecs, type BundleDiff } from '../../compiler/diff/diff.js';
import { formatDiffMarkdown, MARKDOWN_MARKER } from '../../compiler/diff/format-markdown.js';
import type { BundleSpec, ServiceEntry } from '../../schemas/bundle.js';

const reviews = MESH['routes/reviews.yaml']!;

test('a PR that shifts a weight: text names the match and the shares before → after', async (t) => {
  const repo = makeRepo();
  t.after(() => repo.cleanup());
  repo.commit({ 'routes/reviews.yaml': reviews.replace('weight: 90', 'weight: 50').replace('weight: 10', 'weight: 50') }, 'shift');
  const r = await weft(repo.dir, 'diff', 'policies', '--base', 'main');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^weft diff: main \([0-9a-f]{7}\) → working tree$/m);
  assert.match(r.stdout, /^~ service reviews$/m);
  assert.match(r.stdout, /~ default\/reviews prefix \/api: reviews-v1 90%, reviews-v2 10% → reviews-v1 50%, reviews-v2 50%$/m);
  assert.doesNotMatch(r.stdout, /header x-user=beta/, 'the untouched rule is not reported');
  assert.match(r.stdout, /matches: 0 added, 0 removed, 1 changed/);

  const j = await weft(repo.dir, 'diff', 'policies', '--base', 'main', '--format', 'json');
  assert.equal(j.code, 0);
  const d = JSON.parse(j.stdout) as BundleDiff & { changes: { matchesChanged: number; total: number } };
  assert.equal(d.changes.matchesChanged, 1);
  const svc = d.traffic?.servicesChanged.find((s) => s.id === 'default/reviews');
  const m = svc?.routing[0]?.matches[0];
  assert.equal(m?.change, 'changed');
  assert.equal(m?.route, 'default/reviews');
  assert.deepEqual(m?.fields, [{ field: 'backends', before: 'reviews-v1 90%, reviews-v2 10%', after: 'reviews-v1 50%, reviews-v2 50%' }]);
  assert.equal(d.base.ref, 'main');
  assert.equal(d.head.ref, null);

  // --head reads the PR branch from git too: same answer, exit code on request.
  const h = await weft(repo.dir, 'diff', 'policies', '--base', 'main', '--head', 'pr', '--exit-code');
  assert.equal(h.code, 1, 'changes present with --exit-code');
  assert.match(h.stdout, /→ pr \([0-9a-f]{7}\)/);
});

test('a PR that adds a route and inserts a rule above another: added matches only, nothing "changed"', async (t) => {
  const repo = makeRepo();
  t.after(() => repo.cleanup());
  const inserted = reviews.replace(
    '  rules:\n',
    '  rules:\n    - matches:\n        - path: { type: Exact, value: /health }\n      backendRefs:\n        - name: reviews-v3\n          port: 9080\n',
  );
  const extra = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: ratings
spec:
  parentRefs:
    - kind: Service
      name: ratings
  rules:
    - backendRefs:
        - name: ratings
          port: 9080
      timeouts: { request: 2s }
`;
  repo.commit({ 'routes/reviews.yaml': inserted, 'routes/ratings.yaml': extra }, 'add');
  const r = await weft(repo.dir, 'diff', 'policies', '--base', 'main', '--head', 'pr');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^ {6}\+ default\/reviews exact \/health: reviews-v3 100%$/m);
  assert.match(r.stdout, /^ {10}at policies\/routes\/reviews\.yaml:1[0-9]$/m, 'the added match points at its file:line');
  assert.doesNotMatch(r.stdout, /^ +~ default\/reviews/m, 'moving rules down a position is not a change');
  // ratings had no route: its implicit "everything to itself" gives way to the new route.
  assert.match(r.stdout, /^ {6}- \(no routes\) prefix \/: ratings 100%$/m);
  assert.match(r.stdout, /^ {6}\+ default\/ratings prefix \/: ratings 100%$/m);
  assert.match(r.stdout, /matches: 2 added, 1 removed, 0 changed/);

  const md = await weft(repo.dir, 'diff', 'policies', '--base', 'main', '--head', 'pr', '--format', 'markdown');
  assert.equal(md.code, 0);
  assert.ok(md.stdout.startsWith(`${MARKDOWN_MARKER}\n`));
  assert.match(md.stdout, /#### ✏️ Service `reviews`/);
  assert.match(md.stdout, /- ➕ `default\/reviews` `exact \/health`: `reviews-v3 100%`/);
});

test('a PR that breaks a reference: head does not compile; its findings are the report; exit 1', async (t) => {
  const repo = makeRepo();
  t.after(() => repo.cleanup());
  repo.commit({ 'routes/reviews.yaml': reviews.replace('- name: reviews-v2\n          port: 9080\n          weight: 10', '- name: reviews-v9\n          port: 9080\n          weight: 10') }, 'break');
  const r = await weft(repo.dir, 'diff', 'policies', '--base', 'main');
  assert.equal(r.code, 1);
  assert.match(r.stdout, /^head does not compile \(1 error\): no traffic comparison$/m);
  assert.match(r.stdout, /^ {2}policies\/routes\/reviews\.yaml:\d+:\d+ error WFT403 .*reviews-v9/m);
  const j = await weft(repo.dir, 'diff', 'policies', '--base', 'main', '--format', 'json');
  assert.equal(j.code, 1);
  const d = JSON.parse(j.stdout) as BundleDiff;
  assert.equal(d.traffic, null);
  assert.equal(d.head.digest, null);
  assert.deepEqual(
    d.newDiagnostics.map((x) => [x.code, x.file]),
    [['WFT403', 'policies/routes/reviews.yaml']],
  );
});

test('a PR that changes nothing for traffic: same digest, exit 0 even with --exit-code', async (t) => {
  const repo = makeRepo();
  t.after(() => repo.cleanup());
  repo.commit({ 'routes/reviews.yaml': `# a comment moves every line\n${reviews}` }, 'comment');
  const r = await weft(repo.dir, 'diff', 'policies', '--base', 'main', '--exit-code');
  assert.equal(r.code, 0, r.stdout);
  assert.match(r.stdout, /same bundle digest sha256:[0-9a-f]{64}/);
  assert.match(r.stdout, /^no traffic changes$/m);
});

test('usage and revision errors exit 2 with nothing on stdout', async (t) => {
  const repo = makeRepo();
  t.after(() => repo.cleanup());
  for (const args of [
    ['diff', 'policies'],
    ['diff', 'policies', '--base', 'no-such-branch'],
    ['diff', 'policies', '--base', 'main', '--format', 'yaml'],
    ['diff', 'policies', '--base', 'main', '--bogus'],
    ['diff', 'missing-dir', '--base', 'main'],
  ]) {
    const r = await weft(repo.dir, ...args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stdout, '', args.join(' '));
    assert.match(r.stderr, /^weft: /);
  }
});

function svc(i: number, weights: [number, number]): ServiceEntry {
  const id = `default/s${String(i).padStart(4, '0')}`;
  return {
    id,
    name: id.slice(8),
    namespace: 'default',
    ports: [{ name: 'http', port: 80 }],
    endpoints: [],
    backendPolicy: { policy: null, loadBalancer: { type: 'RoundRobin' }, connectionPool: null, outlierDetection: null, retryBudget: { percent: 20, minRetriesPerSecond: 10, intervalMs: 10000 } },
    authorization: { deny: [], allow: [] },
    rateLimits: [],
    routing: {
      producer: {
        matches: [{ rule: 0, id: `${id}#0.0`, path: { type: 'PathPrefix', value: `/a-rather-long-path-to-make-each-line-longer/${i}` }, method: null, headers: [], queryParams: [], port: null }],
        rules: [
          {
            id: `${id}#0`,
            route: { namespace: 'default', name: id.slice(8) },
            filters: [],
            backends: [
              { service: `${id}-v1`, port: 80, weight: weights[0], filters: [] },
              { service: `${id}-v2`, port: 80, weight: weights[1], filters: [] },
            ],
            totalWeight: weights[0] + weights[1],
            direct: null,
            timeouts: { requestMs: 15000, backendRequestMs: 0 },
            retry: null,
            rateLimits: [],
          },
        ],
        index: { exact: {}, prefix: {}, regex: [] },
      },
      consumers: {},
    },
  };
}

test('markdown stays under the size limit and summarises the rest with counts', () => {
  const mesh: BundleSpec['mesh'] = { defaults: { timeouts: { requestMs: 15000, backendRequestMs: 0 }, retry: null }, authorization: { default: 'allow' }, telemetry: { accessLog: false, tracing: true } };
  const n = 2000;
  const base: BundleSpec = { mesh, services: Array.from({ length: n }, (_, i) => svc(i, [90, 10])) };
  const head: BundleSpec = { mesh, services: Array.from({ length: n }, (_, i) => svc(i, [50, 50])) };
  const traffic = diffSpecs(base, head);
  assert.equal(traffic.servicesChanged.length, n);
  const diff: BundleDiff = {
    base: { ref: 'main', commit: null, digest: 'sha256:a', errors: 0, warnings: 0, missing: false },
    head: { ref: null, commit: null, digest: 'sha256:b', errors: 0, warnings: 0, missing: false },
    sameDigest: false,
    traffic,
    newDiagnostics: [],
    resolvedDiagnostics: 0,
  };
  const md = formatDiffMarkdown(diff);
  const bytes = Buffer.byteLength(md, 'utf8');
  assert.ok(bytes <= 60_000, `${bytes} bytes`);
  assert.ok(bytes > 50_000, `the budget is used, not wasted (${bytes} bytes)`);
  const shown = (md.match(/^#### ✏️ Service/gm) ?? []).length;
  assert.ok(shown > 10 && shown < n);
  assert.match(md, new RegExp(`not shown, to stay under GitHub's comment size limit: ${n - shown} services \\(${n - shown} match changes\\) and 0 diagnostics`));
  assert.ok(md.trimEnd().endsWith('</sub>'), 'the footer survives');
  const small = formatDiffMarkdown(diff, { maxBytes: 5000 });
  assert.ok(Buffer.byteLength(small, 'utf8') <= 5000);
});

test('a PR that adds the policy folder: the base is an empty mesh, every Service is added', async (t) => {
  const repo = makeRepo();
  t.after(() => repo.cleanup());
  // main holds the mesh; compare from a commit without the folder instead: a fresh orphan branch.
  git(repo.dir, 'checkout', '-q', '--orphan', 'empty');
  git(repo.dir, 'rm', '-rq', '--cached', '.');
  git(repo.dir, 'commit', '-q', '--allow-empty', '-m', 'nothing yet');
  git(repo.dir, 'checkout', '-q', '-f', 'pr');
  const added = await weft(repo.dir, 'diff', 'policies', '--base', 'empty', '--head', 'pr');
  assert.equal(added.code, 0, added.stderr);
  assert.match(added.stdout, /^base: the directory does not exist at empty; compared with an empty mesh$/m);
  assert.match(added.stdout, /^\+ service reviews \(1 endpoint\)$/m);
  assert.match(added.stdout, /^ {4}default\/reviews prefix \/api: reviews-v1 90%, reviews-v2 10%$/m);
  assert.doesNotMatch(added.stdout, /resolved/);
  assert.match(added.stdout, /^0 services changed; 6 added; 0 removed; .*0 new diagnostics$/m);
});
