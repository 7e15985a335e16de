/**
 * GRPCRoute through `weft test` and `weft explain` (the CLI, on a real directory): RouteTests
 * about gRPC calls (POST /<service>/<method>) pass with GRPCRoute method matching, header matches
 * and weights; explain names the GRPCRoute and explains its precedence in GRPCRoute terms.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { weft } from '../prvalidation/helpers.js';
import type { ExplainReport } from '../../runtime/testing/explain.js';

const CASE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test', 'compiler', 'cases', 'kind-grpcroute', 'policies.yaml');

const ROUTE_TESTS = `
apiVersion: weft.dev/v1alpha1
kind: RouteTest
metadata: { name: greeter }
spec:
  cases:
    - name: the canary header picks v2 for SayHello
      request: { method: POST, url: http://greeter/helloworld.Greeter/SayHello, headers: { content-type: application/grpc, x-canary: "true" } }
      expect: { backend: greeter-v2, headers: { x-routed: canary } }
    - name: other methods of the service are split 90/10
      request: { method: POST, url: http://greeter/helloworld.Greeter/SayGoodbye, headers: { content-type: application/grpc } }
      expect: { backends: { greeter: 90, greeter-v2: 10 } }
    - name: SayHello of any other service matches the method-only rule
      request: { method: POST, url: http://greeter/other.Svc/SayHello, headers: { content-type: application/grpc } }
      expect: { backend: greeter }
    - name: a call no match selects is refused
      request: { method: POST, url: http://greeter/other.Svc/Nothing, headers: { content-type: application/grpc } }
      expect: { status: 404 }
`;

function repo(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'weft-grpc-'));
  cpSync(CASE, path.join(dir, 'policies.yaml'));
  writeFileSync(path.join(dir, 'tests.yaml'), ROUTE_TESTS);
  return dir;
}

test('weft test: RouteTests about gRPC calls pass against a GRPCRoute', async (t) => {
  const dir = repo();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const r = await weft(dir, 'test', '.');
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(r.stdout, '4 passed, 0 failed\n');
});

test('weft explain: names the GRPCRoute and explains precedence by service and method characters', async (t) => {
  const dir = repo();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const r = await weft(dir, 'explain', '.', '--from', 'greeter', 'POST', 'http://greeter/helloworld.Greeter/SayHello', '-H', 'content-type: application/grpc', '--format', 'json');
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as ExplainReport;
  assert.equal(report.chosen?.route, 'GRPCRoute default/greeter');
  assert.equal(report.chosen?.id, 'default/greeter#1.0');
  assert.match(report.chosen?.routeSource ?? '', /^policies\.yaml:\d+$/);
  assert.deepEqual(report.notMatched.map((m) => m.id), ['default/greeter#2.0']);
  assert.deepEqual(report.beaten.map((m) => [m.id, m.decidedBy]), [
    ['default/greeter#3.0', 'more characters in the gRPC service match: 18 before 14'],
    ['default/greeter#0.0', 'more characters in the gRPC service match: 18 before 0'],
  ]);
  const text = await weft(dir, 'explain', '.', '--from', 'greeter', 'POST', 'http://greeter/helloworld.Greeter/SayHello', '-H', 'content-type: application/grpc');
  assert.match(text.stdout, /default\/greeter#0\.0 regex \/\[\^\/\]\+\/SayHello .*lost on more characters in the gRPC service match: 18 before 0/);
});
