/**
 * Header values (issue 13 items 1 and 2), through a real `weft proxy` process and the real CLI:
 * Set-Cookie is never folded (RFC 9110 §5.3, RFC 6265 §3), Cookie joins with "; ", and a header
 * match on Host sees the request's authority on the proxy, in `weft test` and `weft explain`,
 * with `weft validate` quiet about it. Policies that read a header (authorization `when`, rate
 * limit keys, consistent hashing) see the authority for `host` too.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { authorize } from '../../runtime/policy/authorization.js';
import { hashKeyFor } from '../../runtime/policy/consistent-hash.js';
import { rateLimitKey } from '../../runtime/policy/rate-limiter.js';
import { bundle, service, spec } from '../helpers/bundle-builder.js';
import { agent, call, raw, spawnProxy, startEcho, tempDir, WEFT_BIN, writeBundle, type Echo, type ProxyProcess } from '../helpers/proxy-harness.js';

const modifier = (add: { name: string; value: string }[]) => ({ set: [], add, remove: [] });

describe('header values through the proxy (issue 13 items 1, 2)', () => {
  let v1: Echo;
  let v2: Echo;
  let p: ProxyProcess;
  let dir: string;
  before(async () => {
    v1 = await startEcho('v1');
    v2 = await startEcho('v2');
    dir = tempDir();
    const b = bundle(
      spec([
        service('v1', { endpoints: [`127.0.0.1:${v1.port}`] }),
        service('v2', { endpoints: [`127.0.0.1:${v2.port}`] }),
        service('echo', {
          endpoints: [],
          producer: [
            { route: 'cookies', matches: [{ path: { type: 'PathPrefix', value: '/cookies' } }], backends: [{ service: 'v1' }], filters: [{ type: 'ResponseHeaderModifier', modifier: modifier([{ name: 'Set-Cookie', value: 'mesh=1; Path=/' }]) }, { type: 'RequestHeaderModifier', modifier: modifier([{ name: 'Cookie', value: 'mesh=1' }]) }] },
            { route: 'by-host', matches: [{ headers: [{ type: 'Exact', name: 'Host', value: 'echo.default.svc.cluster.local' }] }], backends: [{ service: 'v2' }] },
            { route: 'catch-all', backends: [{ service: 'v1' }] },
          ],
        }),
      ]),
    );
    writeBundle(path.join(dir, 'bundle.json'), b);
    p = await spawnProxy(['--service', 'me', '--bundle', path.join(dir, 'bundle.json')]);
    v1.behave = (req, res) => {
      if (!(req.url ?? '').startsWith('/cookies')) return false;
      const n = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('n') ?? '1');
      const cookies = ['session=abc; Path=/; HttpOnly', 'theme=dark; Expires=Wed, 21 Oct 2026 07:28:00 GMT'].slice(0, n);
      res.writeHead(200, { 'set-cookie': cookies, 'x-cookie-seen': String(req.headers.cookie ?? '') });
      res.end('ok');
      return true;
    };
  });
  after(async () => {
    await p?.stop();
    await Promise.all([v1?.close(), v2?.close()]);
    await agent.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('ResponseHeaderModifier add Set-Cookie: the app cookie and the added one arrive as two lines', async () => {
    const out = await raw(p.outbound, 'GET /cookies HTTP/1.1\r\nHost: echo\r\nConnection: close\r\n\r\n', 3_000);
    const lines = out.split('\r\n').filter((l) => /^set-cookie:/i.test(l));
    assert.deepEqual(lines.map((l) => l.replace(/^set-cookie: /i, '')), ['session=abc; Path=/; HttpOnly', 'mesh=1; Path=/']);
  });

  it('two app cookies (one with a comma in Expires) plus the added one: three lines, none folded', async () => {
    const out = await raw(p.outbound, 'GET /cookies?n=2 HTTP/1.1\r\nHost: echo\r\nConnection: close\r\n\r\n', 3_000);
    const lines = out.split('\r\n').filter((l) => /^set-cookie:/i.test(l));
    assert.equal(lines.length, 3, out);
    assert.equal(lines[1], 'set-cookie: theme=dark; Expires=Wed, 21 Oct 2026 07:28:00 GMT');
  });

  it('RequestHeaderModifier add Cookie joins with "; " (RFC 6265 §5.4)', async () => {
    const r = await call(p.outbound, 'echo', '/cookies', { headers: { cookie: 'a=1' } });
    assert.equal(r.headers['x-cookie-seen'], 'a=1; mesh=1');
  });

  it('a header match on Host sees the authority: the full name goes to v2, the short one to the catch-all', async () => {
    assert.equal((await call(p.outbound, 'echo.default.svc.cluster.local', '/x')).json().name, 'v2');
    assert.equal((await call(p.outbound, 'echo', '/x')).json().name, 'v1');
    // Absolute-form: the target's authority replaces Host (RFC 9112 §3.2.2), for matching too.
    const out = await raw(p.outbound, 'GET http://echo.default.svc.cluster.local/x HTTP/1.1\r\nHost: echo\r\nConnection: close\r\n\r\n', 3_000);
    assert.match(out, /"name":"v2"/);
  });
});

describe('Host header matches agree in weft validate, weft test and weft explain (issue 13 item 2)', () => {
  const dir = tempDir();
  after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(path.join(dir, 'p'));
  writeFileSync(
    path.join(dir, 'p', 'mesh.yaml'),
    `apiVersion: weft.dev/v1alpha1
kind: Service
metadata: { name: echo }
spec: { ports: [{ name: http, port: 80 }], endpoints: [{ address: 127.0.0.1, port: 7 }] }
---
apiVersion: weft.dev/v1alpha1
kind: Service
metadata: { name: echo-v2 }
spec: { ports: [{ name: http, port: 80 }], endpoints: [{ address: 127.0.0.1, port: 9 }] }
---
apiVersion: weft.dev/v1alpha1
kind: Service
metadata: { name: echo-v1 }
spec: { ports: [{ name: http, port: 80 }], endpoints: [{ address: 127.0.0.1, port: 8 }] }
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: echo }
spec:
  parentRefs: [{ group: "", kind: Service, name: echo, port: 80 }]
  rules:
    - matches: [{ headers: [{ name: Host, value: echo.default.svc.cluster.local }] }]
      backendRefs: [{ name: echo-v2, port: 80 }]
    - backendRefs: [{ name: echo-v1, port: 80 }]
---
apiVersion: weft.dev/v1alpha1
kind: RouteTest
metadata: { name: host-match }
spec:
  cases:
    - name: the full name matches the Host rule
      request: { url: http://echo.default.svc.cluster.local/x }
      expect: { backend: echo-v2 }
    - name: the short name falls through
      request: { url: http://echo/x }
      expect: { backend: echo-v1 }
`,
  );
  const weft = (...args: string[]) => spawnSync(process.execPath, [WEFT_BIN, ...args], { cwd: dir, encoding: 'utf8' });

  it('weft validate says nothing about it', () => {
    const r = weft('validate', 'p', '--format', 'json');
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), []);
  });

  it('weft test passes both cases', () => {
    const r = weft('test', 'p');
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /2 passed, 0 failed/);
  });

  it('weft explain routes on the Host and never says "no such header"', () => {
    const r = weft('explain', 'p', 'GET', 'http://echo.default.svc.cluster.local/x', '--format', 'json');
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /echo-v2/);
    assert.doesNotMatch(r.stdout, /no such header/);
  });
});

describe('policies that read a header see the authority for host', () => {
  it('authorization when, rate-limit key and consistent hash', () => {
    const settings = { deny: [], allow: [{ policy: 'default/p', rules: [{ from: null, to: null, when: [{ header: 'host', values: ['api.example'] }] }] }] };
    const base = { caller: null, method: 'GET', path: '/', headers: {} };
    assert.equal(authorize(settings, 'deny', { ...base, authority: 'api.example' }).allowed, true);
    assert.equal(authorize(settings, 'deny', { ...base, authority: 'other' }).allowed, false);
    assert.equal(rateLimitKey('header:Host', { caller: null, clientAddress: null, headers: {}, authority: 'api.example' }), 'api.example');
    assert.equal(hashKeyFor({ header: 'Host' }, {}, null, 'api.example'), 'api.example');
  });
});
