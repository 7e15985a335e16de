/**
 * gRPC conformance through real processes: @grpc/grpc-js client → caller `weft proxy` (outbound,
 * h2c) → callee `weft proxy` (inbound, HTTP/2 between the proxies) → @grpc/grpc-js app. Policies
 * are compiled from YAML (GRPCRoute, AuthorizationPolicy) with compile(). Proves: unary, server-,
 * client- and bidi-streaming calls; metadata and trailers both ways; an app's own error status
 * unchanged; the proxy's own errors as gRPC statuses (no endpoint → UNAVAILABLE, denied →
 * PERMISSION_DENIED, grpc-timeout → DEADLINE_EXCEEDED, no route → UNIMPLEMENTED); GRPCRoute
 * method matching and weights; retries on a gRPC status (MeshConfig retry.grpcCodes); gRPC status
 * in metrics.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect as h2connect, type IncomingHttpHeaders } from 'node:http2';
import { createServer } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { compile } from '../../compiler/compile.js';
import { bidi, clientStream, echoClient, serverStream, startGrpcEcho, unary, type GrpcEcho } from '../helpers/grpc-echo.js';
import { agent, spawnProxy, tempDir, type ProxyProcess } from '../helpers/proxy-harness.js';

/** freePort asks the kernel for a loopback port that is free right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

function policies(dir: string, inbound: { v1: number; v2: number }): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, 'mesh.yaml'),
    `apiVersion: weft.dev/v1alpha1
kind: MeshConfig
metadata: { name: mesh }
spec:
  defaults:
    retry: { attempts: 2, codes: [503], backoff: 10ms, grpcCodes: [unavailable] }
---
apiVersion: weft.dev/v1alpha1
kind: Service
metadata: { name: client }
spec:
  ports: [{ name: http, port: 80 }]
---
apiVersion: weft.dev/v1alpha1
kind: Service
metadata: { name: echo }
spec:
  ports: [{ name: grpc, port: 9090, appProtocol: kubernetes.io/h2c }]
---
apiVersion: weft.dev/v1alpha1
kind: Service
metadata: { name: echo-v1 }
spec:
  ports: [{ name: grpc, port: 9090, appProtocol: kubernetes.io/h2c }]
  endpoints: [{ address: 127.0.0.1, port: ${inbound.v1}, meshed: true }]
---
apiVersion: weft.dev/v1alpha1
kind: Service
metadata: { name: echo-v2 }
spec:
  ports: [{ name: grpc, port: 9090, appProtocol: kubernetes.io/h2c }]
  endpoints: [{ address: 127.0.0.1, port: ${inbound.v2}, meshed: true }]
---
apiVersion: weft.dev/v1alpha1
kind: Service
metadata: { name: gone }
spec:
  ports: [{ name: grpc, port: 9090, appProtocol: kubernetes.io/h2c }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: { name: echo }
spec:
  parentRefs: [{ kind: Service, name: echo }]
  rules:
    - matches: [{ method: { service: test.Echo } }]
      backendRefs: [{ name: echo-v1, port: 9090 }]
    - matches: [{ method: { service: test.Echo, method: Forbidden } }]
      backendRefs: [{ name: echo-v2, port: 9090 }]
    - matches: [{ method: { service: test.Echo, method: Unary }, headers: [{ name: x-version, value: v2 }] }]
      backendRefs: [{ name: echo-v2, port: 9090 }]
    - matches: [{ method: { service: test.Echo, method: Weighted } }]
      backendRefs: [{ name: echo-v1, port: 9090, weight: 3 }, { name: echo-v2, port: 9090, weight: 1 }]
---
apiVersion: weft.dev/v1alpha1
kind: AuthorizationPolicy
metadata: { name: echo-v2 }
spec:
  targetRefs: [{ kind: Service, name: echo-v2 }]
  action: DENY
  rules:
    - from: [{ service: client }]
      to: [{ paths: ["/test.Echo/Forbidden"] }]
`,
  );
}

/** rawGrpc sends one HTTP/2 gRPC request by hand (no client-side deadline) and returns what came back. */
async function rawGrpc(addr: string, authority: string, grpcPath: string, headers: Record<string, string> = {}): Promise<{ headers: IncomingHttpHeaders; trailers: IncomingHttpHeaders | null; endedWithHeaders: boolean }> {
  const session = h2connect(`http://${addr}`);
  try {
    return await new Promise((resolve, reject) => {
      session.on('error', reject);
      const s = session.request({ ':method': 'POST', ':path': grpcPath, ':authority': authority, 'content-type': 'application/grpc', te: 'trailers', ...headers });
      let got: IncomingHttpHeaders = {};
      let trailers: IncomingHttpHeaders | null = null;
      let endedWithHeaders = false;
      s.on('response', (h, flags) => {
        got = h;
        endedWithHeaders = (flags & 1) !== 0;
      });
      s.on('trailers', (t) => (trailers = t));
      s.on('data', () => {});
      s.on('end', () => resolve({ headers: got, trailers, endedWithHeaders }));
      s.on('error', reject);
      // An empty gRPC message: flag 0, length 0 — then `{}` would be 2 bytes; the servers here only read JSON.
      const msg = Buffer.from('{"delayMs":3000}');
      const frame = Buffer.alloc(5 + msg.length);
      frame.writeUInt32BE(msg.length, 1);
      msg.copy(frame, 5);
      s.end(frame);
    });
  } finally {
    session.close();
  }
}

describe('gRPC through two proxies', () => {
  let v1: GrpcEcho;
  let v2: GrpcEcho;
  const procs: ProxyProcess[] = [];
  let caller: ProxyProcess;
  let client: grpc.Client;
  before(async () => {
    v1 = await startGrpcEcho('v1');
    v2 = await startGrpcEcho('v2');
    const ports = { v1: await freePort(), v2: await freePort() };
    const dir = tempDir();
    policies(path.join(dir, 'policies'), ports);
    const result = await compile({ dir: path.join(dir, 'policies') });
    assert.ok(result.bundleJson, `compile failed: ${result.diagnostics.map((d) => `${d.code} ${d.message}`).join('; ')}`);
    const bundleFile = path.join(dir, 'bundle.json');
    writeFileSync(bundleFile, result.bundleJson);
    procs.push(await spawnProxy(['--service', 'echo-v1', '--bundle', bundleFile, '--inbound', `127.0.0.1:${ports.v1}`, '--app', `http://127.0.0.1:${v1.port}`]));
    procs.push(await spawnProxy(['--service', 'echo-v2', '--bundle', bundleFile, '--inbound', `127.0.0.1:${ports.v2}`, '--app', `http://127.0.0.1:${v2.port}`]));
    caller = await spawnProxy(['--service', 'client', '--bundle', bundleFile]);
    procs.push(caller);
    client = echoClient(caller.outbound, 'echo');
  });
  after(async () => {
    client?.close();
    for (const p of procs) await p.stop();
    await Promise.all([v1?.close(), v2?.close()]);
    await agent.close();
  });

  it('unary: the answer, request metadata, response headers and trailers pass intact', async () => {
    const md = new grpc.Metadata();
    md.set('x-req', 'hello-meta');
    const r = await unary(client, 'Unary', { text: 'hi' }, md);
    assert.equal(r.error, null);
    assert.deepEqual(r.value, { text: 'hi', name: 'v1', seen: 'hello-meta' });
    assert.deepEqual(r.headers?.get('x-init'), ['v1']);
    assert.deepEqual(r.trailers?.get('x-trail'), ['v1-done']);
  });

  it('server streaming: every message and the trailers', async () => {
    const r = await serverStream(client, { count: 25 });
    assert.equal(r.status.code, grpc.status.OK);
    assert.deepEqual(r.messages.map((m) => m.i), [...Array(25).keys()]);
    assert.deepEqual(r.status.metadata.get('x-trail'), ['v1-streamed']);
  });

  it('client streaming: every message reaches the app', async () => {
    const msgs = Array.from({ length: 40 }, (_, i) => ({ n: i + 1 }));
    assert.deepEqual(await clientStream(client, msgs), { sum: 820, messages: 40, name: 'v1' });
  });

  it('bidi streaming: ping-pong over one stream, both directions open at once', async () => {
    const texts = ['a', 'b', 'c', 'd', 'e'];
    const out = await bidi(client, texts);
    assert.deepEqual(out, texts.map((text) => ({ text, name: 'v1' })));
  });

  it("the app's own error (NOT_FOUND) arrives unchanged, with its trailer", async () => {
    const r = await unary(client, 'Missing', {});
    assert.equal(r.error?.code, grpc.status.NOT_FOUND);
    assert.equal(r.error?.details, 'no such thing');
    assert.deepEqual(r.trailers?.get('x-why'), ['missing']);
  });

  it('GRPCRoute method + header match picks the rule with the most specific method', async () => {
    const md = new grpc.Metadata();
    md.set('x-version', 'v2');
    assert.equal((await unary(client, 'Unary', { text: 'x' }, md)).value?.name, 'v2');
    assert.equal((await unary(client, 'Unary', { text: 'x' })).value?.name, 'v1');
  });

  it('GRPCRoute weights: 3:1 within tolerance', async () => {
    let n1 = 0;
    const total = 200;
    for (let i = 0; i < total; i++) if ((await unary(client, 'Weighted', {})).value?.name === 'v1') n1++;
    // Expected 150; sd ≈ 6.1. ±30 is ~5 sd: a real skew fails, chance does not.
    assert.ok(Math.abs(n1 - 150) <= 30, `v1 got ${n1} of ${total}`);
  });

  it('a trailers-only UNAVAILABLE from the app is retried (retry.grpcCodes) and the client sees the answer', async () => {
    const before = v1.calls['Flaky'] ?? 0;
    const r = await unary(client, 'Flaky', { text: 'again' });
    assert.equal(r.error, null);
    assert.equal(r.value?.text, 'again');
    assert.equal((v1.calls['Flaky'] ?? 0) - before, 2);
  });

  it('denied by the callee\'s AuthorizationPolicy → PERMISSION_DENIED, the app never called', async () => {
    const before = v2.calls['Forbidden'] ?? 0;
    const r = await unary(client, 'Forbidden', {});
    assert.equal(r.error?.code, grpc.status.PERMISSION_DENIED);
    assert.match(r.error?.details ?? '', /WEFT_FORBIDDEN/);
    assert.equal(v2.calls['Forbidden'] ?? 0, before);
  });

  it('no endpoint → UNAVAILABLE as a gRPC status (HTTP 200, trailers-only)', async () => {
    const c = echoClient(caller.outbound, 'gone');
    try {
      const r = await unary(c, 'Unary', {});
      assert.equal(r.error?.code, grpc.status.UNAVAILABLE);
      assert.match(r.error?.details ?? '', /WEFT_NO_ENDPOINTS/);
    } finally {
      c.close();
    }
    const raw = await rawGrpc(caller.outbound, 'gone', '/test.Echo/Unary');
    assert.equal(raw.headers[':status'], 200);
    assert.equal(raw.headers['grpc-status'], '14');
    assert.equal(raw.endedWithHeaders, true);
  });

  it('grpc-timeout is the deadline: the proxy answers DEADLINE_EXCEEDED itself', async () => {
    const raw = await rawGrpc(caller.outbound, 'echo', '/test.Echo/Slow', { 'grpc-timeout': '150m' });
    assert.equal(raw.headers[':status'], 200);
    assert.equal(raw.headers['grpc-status'], '4');
    assert.equal(raw.headers['weft-error'], 'WEFT_REQUEST_TIMEOUT');
    const viaClient = await unary(client, 'Slow', { delayMs: 3000 }, new grpc.Metadata(), { deadline: Date.now() + 200 });
    assert.equal(viaClient.error?.code, grpc.status.DEADLINE_EXCEEDED);
  });

  it('no route for the method → UNIMPLEMENTED', async () => {
    const raw = await rawGrpc(caller.outbound, 'echo', '/other.Svc/Call');
    assert.equal(raw.headers['grpc-status'], '12');
    assert.equal(raw.headers['weft-error'], 'WEFT_NO_ROUTE');
  });

  it('metrics carry the gRPC status', async () => {
    const r = await fetch(`http://${caller.admin}/metrics`);
    const text = await r.text();
    assert.match(text, /weft_grpc_responses_total\{direction="outbound",service="default\/echo",route="default\/echo#0",grpc_status="0"\} \d+/);
    assert.match(text, /weft_grpc_responses_total\{direction="outbound",service="default\/echo",route="[^"]*",grpc_status="5"\} 1/);
    assert.match(text, /weft_grpc_responses_total\{direction="outbound",service="default\/gone",route="[^"]*",grpc_status="14"\} 2/);
  });
});
