/**
 * weft test and weft explain through the real CLI: pass/fail output with each failing case's
 * file:line, exit codes, --rev, json; explain's precedence reasoning, no-match report and the
 * receiving side's authorization and rate limits.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { makeRepo, MESH, weft } from './helpers.js';
import type { ExplainReport } from '../../runtime/testing/explain.js';
import type { TestRun } from '../../runtime/testing/route-tests.js';

const tests = MESH['tests/routing.yaml']!;

test('weft test: every case passes on the mesh; exit 0 and the count line', async (t) => {
  const repo = makeRepo();
  t.after(() => repo.cleanup());
  const r = await weft(repo.dir, 'test', 'policies');
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(r.stdout, '7 passed, 0 failed\n');
});

test('weft test: failing cases give file:line of the case and what differed; exit 1; --rev tests the old commit', async (t) => {
  const repo = makeRepo();
  t.after(() => repo.cleanup());
  const broken = tests
    .replace('backend: reviews-v2', 'backend: reviews-v1')
    .replace('backends: { reviews-v1: 90, reviews-v2: 10 }', 'backends: { reviews-v1: 80, reviews-v2: 20 }')
    .replace('path: /v2/items?page=2', 'path: /api/items?page=2')
    .replace('x-canary: "true"', 'x-canary: "yes"')
    .replace('location: "http://productpage/new?q=1"', 'location: "http://productpage/new"')
    .replace('status: 404', 'status: 503')
    .replace('status: 403', 'status: 200');
  repo.commit({ 'tests/routing.yaml': broken }, 'wrong expectations');
  const r = await weft(repo.dir, 'test', 'policies');
  assert.equal(r.code, 1);
  const lines = r.stdout.trimEnd().split('\n');
  assert.equal(lines.at(-1), '2 passed, 5 failed');
  const text = readFileSync(path.join(repo.dir, 'policies/tests/routing.yaml'), 'utf8').split('\n');
  const lineOf = (name: string) => text.findIndex((l) => l.includes(`- name: ${name}`)) + 1;
  const expectLine = (name: string, what: RegExp) => {
    const l = lines.find((x) => x.includes(`"${name}"`));
    assert.ok(l, `a line for ${name}`);
    assert.ok(l.startsWith(`policies/tests/routing.yaml:${lineOf(name)}:7: FAIL default/routing "${name}": `), l);
    assert.match(l, what);
  };
  expectLine('beta users reach v2', /expected backend reviews-v1, got reviews-v2 100%$/);
  expectLine(
    'the api is split 90/10, rewritten and stamped',
    /expected backends reviews-v1 80%, reviews-v2 20%, got reviews-v1 90%, reviews-v2 10%; expected path \/api\/items\?page=2 at reviews-v1, got \/v2\/items\?page=2; .*expected header x-canary: yes at reviews-v1, got x-canary: true/,
  );
  expectLine('the old page moved', /expected Location http:\/\/productpage\/new, got http:\/\/productpage\/new\?q=1$/);
  expectLine('unknown paths are not routed', /expected status 503, got 404 \(no route of service default\/productpage matches GET \/nowhere\)$/);
  expectLine('reviews-v1 may not read ratings', /expected status 200, got 403 \(denied: no rule of AuthorizationPolicy default\/ratings-readers \(ALLOW\) matched\)$/);
  assert.equal(lines.length, 6, 'one line per failing case, then the count');

  const j = await weft(repo.dir, 'test', 'policies', '--format', 'json');
  assert.equal(j.code, 1);
  const run = JSON.parse(j.stdout) as TestRun;
  assert.equal(run.failed, 5);
  assert.equal(run.results.length, 7);
  assert.equal(run.results[0]?.file, 'policies/tests/routing.yaml');

  const old = await weft(repo.dir, 'test', 'policies', '--rev', 'main');
  assert.equal(old.code, 0, old.stdout);
  assert.equal(old.stdout, '7 passed, 0 failed\n');
});

test('weft test: 429 only where a rate limit applies; a policy that does not compile is exit 1; bad flags exit 2', async (t) => {
  const repo = makeRepo();
  t.after(() => repo.cleanup());
  repo.commit(
    {
      'tests/limits.yaml': `apiVersion: weft.dev/v1alpha1
kind: RouteTest
metadata:
  name: limits
spec:
  cases:
    - name: productpage has no limit
      request:
        url: http://productpage/new
      expect:
        status: 429
`,
    },
    'limits',
  );
  const r = await weft(repo.dir, 'test', 'policies');
  assert.equal(r.code, 1);
  assert.match(r.stdout, /"productpage has no limit": expected status 429, but no rate limit applies to this request$/m);

  repo.commit({ 'routes/reviews.yaml': MESH['routes/reviews.yaml']!.replace('name: reviews-v1', 'name: reviews-v7') }, 'break');
  const b = await weft(repo.dir, 'test', 'policies');
  assert.equal(b.code, 1);
  assert.match(b.stdout, /WFT403/);
  assert.match(b.stdout, /the policies do not compile: no case was run\n$/);

  for (const args of [['test', 'policies', '--format', 'xml'], ['test', 'policies', '--nope'], ['test', 'a', 'b']]) {
    const u = await weft(repo.dir, ...args);
    assert.equal(u.code, 2, args.join(' '));
    assert.equal(u.stdout, '');
  }
});

test('weft explain: the chosen match, the runner-up and the precedence step that decided', async (t) => {
  const repo = makeRepo();
  t.after(() => repo.cleanup());
  const r = await weft(repo.dir, 'explain', 'policies', '--from', 'productpage', 'GET', 'http://reviews/api/x?y=1', '-H', 'x-user: beta');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^route: +default\/reviews \(policies\/routes\/reviews\.yaml:\d+\)$/m);
  assert.match(r.stdout, /^match: +default\/reviews#1\.0 prefix \/api \(policies\/routes\/reviews\.yaml:\d+\)$/m);
  assert.match(r.stdout, /^ {2}default\/reviews#0\.0 prefix \/ header x-user=beta .*: lost on longer path prefix: "\/api" \(4 characters\) before "\/" \(1\)$/m);
  assert.match(r.stdout, /^ {2}RequestHeaderModifier set x-canary: true: request headers changed$/m);
  assert.match(r.stdout, /^backend: +reviews-v1:9080 \(90%\)$/m);
  assert.match(r.stdout, /^ {2}receives: GET \/v2\/x\?y=1 Host: reviews$/m);
  assert.match(r.stdout, /^ {12}x-canary: true$/m);
  // What the app learns of its caller is said both ways: the mesh's mTLS is not in the policies.
  assert.match(r.stdout, /^ {12}weft-source: productpage\.default\n {14}\(without mTLS; with it the app gets x-forwarded-client-cert: .*URI=spiffe:\/\/TRUST_DOMAIN\/ns\/default\/sa\/productpage instead\)$/m);

  const j = await weft(repo.dir, 'explain', 'policies', '--from', 'reviews-v1', 'GET', 'http://ratings/ratings/1', '--format', 'json');
  assert.equal(j.code, 0);
  const rep = JSON.parse(j.stdout) as ExplainReport;
  assert.equal(rep.service, 'default/ratings');
  assert.equal(rep.table, 'no routes');
  assert.equal(rep.outcome.kind, 'forwarded');
  const b = rep.outcome.kind === 'forwarded' ? rep.outcome.branches[0] : undefined;
  assert.equal(b?.status, 403);
  assert.equal(b?.authorization.allowed, false);
  assert.match(b?.authorization.decision ?? '', /ratings-readers/);
  assert.equal(b?.rateLimits.admittedAtOnce, 5, 'burst 5: the sixth identical request gets 429');
  assert.equal(b?.rateLimits.refusedBy, 'default/ratings');
});

test('weft explain: no match lists every route considered and why; usage errors exit 2', async (t) => {
  const repo = makeRepo();
  t.after(() => repo.cleanup());
  const r = await weft(repo.dir, 'explain', 'policies', 'POST', 'http://productpage/nowhere');
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^considered, did not match:$/m);
  assert.match(r.stdout, /default\/productpage#0\.0 exact \/old \(policies\/routes\/productpage\.yaml:\d+\): path: Exact "\/old" does not match "\/nowhere"/);
  assert.match(r.stdout, /default\/productpage#1\.0 prefix \/new .*: path: PathPrefix "\/new" does not match "\/nowhere"/);
  assert.match(r.stdout, /^result: +404: /m);
  const unknown = await weft(repo.dir, 'explain', 'policies', 'GET', 'http://nosuch/x');
  assert.match(unknown.stdout, /^service: +none: no mesh Service answers to host "nosuch"$/m);
  for (const args of [
    ['explain', 'policies', 'GET'],
    ['explain', 'policies', 'G E T', 'http://reviews/'],
    ['explain', 'policies', 'GET', 'reviews/x'],
    ['explain', 'policies', 'GET', 'http://reviews/', '-H', 'no-colon'],
    ['explain', 'policies', '--from', 'nobody', 'GET', 'http://reviews/'],
  ]) {
    const u = await weft(repo.dir, ...args);
    assert.equal(u.code, 2, `${args.join(' ')}: ${u.stdout}`);
    assert.equal(u.stdout, '');
  }
});

test("the repository's own policies/ (the demo mesh, registration-only Services) passes weft test: README's second command", async () => {
  // dist/test/prvalidation → the repository root, where policies/ lives.
  const root = path.resolve(import.meta.dirname, '..', '..', '..');
  const r = await weft(root, 'test', 'policies');
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^\d+ passed, 0 failed$/m);
});
