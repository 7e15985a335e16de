/**
 * Timeouts, retries and upstream failures through a real `weft proxy` process.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { bundle, service, spec } from '../helpers/bundle-builder.js';
import { agent, call, spawnProxy, startEcho, tempDir, writeBundle, type Echo, type ProxyProcess } from '../helpers/proxy-harness.js';

describe('timeouts, retries, upstream failures', () => {
  let up: Echo;
  let p: ProxyProcess;
  const flaky = new Map<string, number>();
  before(async () => {
    up = await startEcho('up');
    const retry = { attempts: 2, codes: [503], backoffMs: 5 };
    const s = spec([
      service('up', { endpoints: [`127.0.0.1:${up.port}`] }),
      // one dead endpoint (nothing listens on port 1) and one live one, round-robin
      service('half', { endpoints: ['127.0.0.1:1', `127.0.0.1:${up.port}`] }),
      service('dead', { endpoints: ['127.0.0.1:1'] }),
      service('app', {
        producer: [
          { route: 'rt', matches: [{ path: { type: 'PathPrefix', value: '/rt' } }], timeouts: { requestMs: 200 }, backends: [{ service: 'up' }] },
          { route: 'bt', matches: [{ path: { type: 'PathPrefix', value: '/bt' } }], timeouts: { backendRequestMs: 100 }, retry: { attempts: 2, codes: [], backoffMs: 1 }, backends: [{ service: 'up' }] },
          { route: 'both', matches: [{ path: { type: 'PathPrefix', value: '/both' } }], timeouts: { requestMs: 250, backendRequestMs: 100 }, retry: { attempts: 50, codes: [], backoffMs: 1 }, backends: [{ service: 'up' }] },
          { route: 'retry', matches: [{ path: { type: 'PathPrefix', value: '/retry' } }], retry, backends: [{ service: 'up' }] },
          { route: 'noretry', matches: [{ path: { type: 'PathPrefix', value: '/noretry' } }], backends: [{ service: 'up' }] },
          { route: 'half', matches: [{ path: { type: 'PathPrefix', value: '/half' } }], retry, backends: [{ service: 'half' }] },
          { route: 'dead', matches: [{ path: { type: 'PathPrefix', value: '/dead' } }], backends: [{ service: 'dead' }] },
        ],
      }),
    ]);
    const dir = tempDir();
    writeBundle(`${dir}/bundle.json`, bundle(s));
    p = await spawnProxy(['--service', 'client', '--bundle', `${dir}/bundle.json`]);
  });
  after(async () => {
    await p.stop();
    await up.close();
    await agent.close();
  });

  it('request timeout fires on a slow upstream', async () => {
    // /rt prefix routes here; the echo delays on /delay/..., so use a header-free path the echo delays:
    up.behave = (req, res) => {
      if (!(req.url ?? '').startsWith('/rt/slow')) return false;
      setTimeout(() => res.end('late'), 1_000);
      return true;
    };
    const r = await call(p.outbound, 'app', '/rt/slow');
    assert.equal(r.status, 504);
    assert.match(r.text, /WEFT_REQUEST_TIMEOUT/);
  });

  it('backendRequest timeout per attempt, retried, then 504', async () => {
    const before = up.started;
    up.behave = (req, res) => {
      if (!(req.url ?? '').startsWith('/bt')) return false;
      setTimeout(() => res.end('late'), 600);
      return true;
    };
    const r = await call(p.outbound, 'app', '/bt/x');
    assert.equal(r.status, 504);
    assert.match(r.text, /WEFT_BACKEND_TIMEOUT/);
    assert.equal(up.started - before, 3, 'first attempt and two retries');
  });

  it('the request timeout bounds all retries', async () => {
    up.behave = (req, res) => {
      if (!(req.url ?? '').startsWith('/both')) return false;
      setTimeout(() => res.end('late'), 600);
      return true;
    };
    const r = await call(p.outbound, 'app', '/both/x');
    assert.equal(r.status, 504);
    assert.match(r.text, /WEFT_REQUEST_TIMEOUT/);
  });

  it('retries 503 and reset connections; replays small bodies; never replays large ones', async () => {
    installFlaky('/retry');
    let before = up.seen.length;
    const a = await call(p.outbound, 'app', '/retry/flaky-503/k1', { method: 'POST', body: 'small body' });
    assert.equal(a.status, 200, a.text);
    assert.equal(up.seen.length - before, 2);
    assert.equal(up.seen.at(-1)?.body, 'small body');

    before = up.started;
    const b = await call(p.outbound, 'app', '/retry/flaky-reset/k2');
    assert.equal(b.status, 200, b.text);
    assert.equal(up.started - before, 2);

    before = up.started;
    const big = Buffer.alloc(200 * 1024, 120);
    const c = await call(p.outbound, 'app', '/retry/flaky-503/k3', { method: 'POST', body: big });
    assert.equal(c.status, 503, 'a streamed body is not replayed');
    assert.equal(up.started - before, 1);
  });

  it('without a retry policy a reset is a 502 that says so', async () => {
    installFlaky('/noretry');
    const r = await call(p.outbound, 'app', '/noretry/flaky-reset/k4');
    assert.equal(r.status, 502);
    assert.match(r.text, /WEFT_UPSTREAM_RESET/);
  });

  it('connection refused is retried on another endpoint', async () => {
    for (let i = 0; i < 6; i++) assert.equal((await call(p.outbound, 'app', '/half/x')).status, 200);
  });

  it('connection refused without retry → 503 that says so', async () => {
    const r = await call(p.outbound, 'app', '/dead/x');
    assert.equal(r.status, 503);
    assert.match(r.text, /WEFT_UPSTREAM_CONNECT/);
  });

  it('counts retries and timeouts in metrics', async () => {
    const r = await call(p.admin, p.admin, '/metrics');
    assert.match(r.text, /weft_retries_total\{[^}]*route="default\/retry#0"[^}]*\} [1-9]/);
    assert.match(r.text, /weft_timeouts_total\{[^}]*kind="backendRequest"[^}]*\} [1-9]/);
    assert.match(r.text, /weft_timeouts_total\{[^}]*kind="request"[^}]*\} [1-9]/);
    assert.match(r.text, /weft_upstream_attempts_total/);
    assert.match(r.text, /weft_requests_total\{direction="outbound",service="default\/app",route="default\/retry#0",backend="default\/up",code="200"\}/);
  });

  /** installFlaky strips a route prefix before the flaky matcher sees the path. */
  function installFlaky(prefix = ''): void {
    up.behave = (req, res) => {
      const url = (req.url ?? '').slice(prefix.length);
      const m = /^\/flaky-(503|reset)\/(\w+)/.exec(url);
      if (!m || !(req.url ?? '').startsWith(prefix)) return false;
      const n = (flaky.get(m[2]!) ?? 0) + 1;
      flaky.set(m[2]!, n);
      if (n > 1) return false;
      if (m[1] === 'reset') req.socket.destroy();
      else {
        res.writeHead(503);
        res.end('try again');
      }
      return true;
    };
  }
});
