/**
 * The compiler and the proxy together: a policy directory compiled with compile(), served by a
 * real `weft proxy`, and Gateway API precedence checked over HTTP — including ties across routes
 * (alphabetical namespace/name when creation times are unknown).
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { compile } from '../../compiler/compile.js';
import { agent, call, spawnProxy, startEcho, tempDir, type Echo, type ProxyProcess } from '../helpers/proxy-harness.js';

function policies(dir: string, ports: Record<string, number>): void {
  mkdirSync(dir, { recursive: true });
  const svc = (name: string, port: number | null): string => `apiVersion: weft.dev/v1alpha1
kind: Service
metadata: { name: ${name} }
spec:
  ports: [{ name: http, port: 80 }]
  endpoints: [${port === null ? '' : `{ address: 127.0.0.1, port: ${port} }`}]
`;
  const be = (name: string): string => `[{ name: ${name}, port: 80 }]`;
  writeFileSync(
    path.join(dir, 'services.yaml'),
    [svc('web', null), ...Object.entries(ports).map(([n, p]) => svc(n, p))].join('---\n'),
  );
  writeFileSync(
    path.join(dir, 'routes.yaml'),
    `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: b-route }
spec:
  parentRefs: [{ group: "", kind: Service, name: web }]
  rules:
    - matches: [{ path: { type: PathPrefix, value: /api } }]
      backendRefs: ${be('short')}
    - matches: [{ path: { type: PathPrefix, value: /tie } }]
      backendRefs: ${be('b')}
    - matches: [{ path: { type: PathPrefix, value: /m }, headers: [{ name: x-a, value: "1" }] }]
      backendRefs: ${be('header')}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: a-route }
spec:
  parentRefs: [{ group: "", kind: Service, name: web }]
  rules:
    - matches: [{ path: { type: PathPrefix, value: /api/v2 } }]
      backendRefs: ${be('long')}
    - matches: [{ path: { type: Exact, value: /api } }]
      backendRefs: ${be('exact')}
    - matches: [{ path: { type: PathPrefix, value: /tie } }]
      backendRefs: ${be('a')}
    - matches: [{ path: { type: PathPrefix, value: /m }, method: POST }]
      backendRefs: ${be('method')}
`,
  );
}

describe('compiled bundle through the proxy: Gateway API precedence', () => {
  const names = ['short', 'long', 'exact', 'a', 'b', 'header', 'method'];
  const echoes: Echo[] = [];
  let p: ProxyProcess | null = null;
  before(async () => {
    for (const n of names) echoes.push(await startEcho(n));
    const dir = tempDir();
    policies(path.join(dir, 'policies'), Object.fromEntries(names.map((n, i) => [n, echoes[i]!.port])));
    const result = await compile({ dir: path.join(dir, 'policies') });
    assert.ok(result.bundleJson, `compile failed: ${result.diagnostics.map((d) => `${d.code} ${d.message}`).join('; ')}`);
    writeFileSync(path.join(dir, 'bundle.json'), result.bundleJson);
    p = await spawnProxy(['--service', 'client', '--bundle', path.join(dir, 'bundle.json')]);
  });
  after(async () => {
    await p?.stop();
    for (const e of echoes) await e.close();
    await agent.close();
  });

  const cases: [string, string, string, Record<string, string>, string][] = [
    ['Exact beats every prefix', 'GET', '/api', {}, 'exact'],
    ['the longest prefix wins across routes', 'GET', '/api/v2/x', {}, 'long'],
    ['a shorter prefix otherwise', 'GET', '/api/v1', {}, 'short'],
    ['a tie across routes: alphabetical namespace/name', 'GET', '/tie/x', {}, 'a'],
    ['method beats headers', 'POST', '/m', { 'x-a': '1' }, 'method'],
    ['headers when the method does not match', 'GET', '/m', { 'x-a': '1' }, 'header'],
  ];
  for (const [name, method, target, headers, want] of cases) {
    it(name, async () => {
      assert.ok(p, 'the proxy started');
      const r = await call(p.outbound, 'web', target, { method, headers });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json().name, want);
    });
  }
  it('no match → 404', async () => {
    assert.ok(p, 'the proxy started');
    assert.equal((await call(p.outbound, 'web', '/other')).status, 404);
  });
});
