/**
 * HTTP hygiene through a real `weft proxy` process: hop-by-hop headers both ways, request
 * smuggling attempts over a raw socket (400, nothing forwarded), header size limit (431),
 * no open proxy, and the inbound listener's weft-source rule.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { bundle, service, spec } from '../helpers/bundle-builder.js';
import { connect } from 'node:http2';
import { agent, call, raw, spawnProxy, startEcho, tempDir, within, writeBundle, type Echo, type ProxyProcess } from '../helpers/proxy-harness.js';

describe('HTTP hygiene', () => {
  let up: Echo;
  let app: Echo;
  let p: ProxyProcess;
  before(async () => {
    up = await startEcho('up');
    app = await startEcho('app');
    const dir = tempDir();
    writeBundle(`${dir}/bundle.json`, bundle(spec([service('up', { endpoints: [`127.0.0.1:${up.port}`] }), service('me', { endpoints: [] })])));
    p = await spawnProxy(['--service', 'me', '--bundle', `${dir}/bundle.json`, '--inbound', '127.0.0.1:0', '--app', `http://127.0.0.1:${app.port}`]);
  });
  after(async () => {
    await p.stop();
    await Promise.all([up.close(), app.close()]);
    await agent.close();
  });

  it('removes hop-by-hop request headers, including those named by Connection', async () => {
    const out = await raw(
      p.outbound,
      'GET /h HTTP/1.1\r\nHost: up\r\nConnection: close, X-Secret\r\nX-Secret: 1\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\n' +
        'Proxy-Connection: keep-alive\r\nProxy-Authorization: Basic eA==\r\nUpgrade: foo\r\nX-Kept: yes\r\n\r\n',
    );
    assert.match(out, /^HTTP\/1.1 200/);
    const h = up.seen.at(-1)!.headers;
    for (const name of ['x-secret', 'keep-alive', 'te', 'proxy-connection', 'proxy-authorization', 'upgrade']) assert.equal(h[name], undefined, name);
    assert.equal(h['x-kept'], 'yes');
    assert.notEqual(h['connection'], 'close, X-Secret');
  });

  it('an informational response (103 Early Hints, 102 Processing) is not taken for the answer', async () => {
    // undici hands a handler every 1xx head before the final one; taken as the answer, the
    // client waited for a body that never came (the review of 2026-11-30 found the request hung).
    up.behave = (req, res) => {
      if (req.url === '/hints') {
        res.writeEarlyHints({ link: '</s.css>; rel=preload; as=style' });
        res.end('after hints');
        return true;
      }
      if (req.url === '/processing') {
        res.writeProcessing();
        res.end('after processing');
        return true;
      }
      return false;
    };
    try {
      const a = await within(call(p.outbound, 'up', '/hints'), 15_000, 'the answer after a 103');
      assert.equal(a.status, 200, a.text);
      assert.equal(a.text, 'after hints');
      const b = await within(call(p.outbound, 'up', '/processing'), 15_000, 'the answer after a 102');
      assert.equal(b.status, 200, b.text);
      assert.equal(b.text, 'after processing');
      const next = await call(p.outbound, 'up', '/x');
      assert.equal(next.status, 200, 'the pool is still sound');
    } finally {
      up.behave = null;
    }
  });

  it('removes hop-by-hop response headers', async () => {
    const r = await call(p.outbound, 'up', '/x');
    assert.equal(r.headers['x-drop-me'], undefined);
    assert.equal(r.headers['proxy-authenticate'], undefined);
    assert.equal(r.headers['x-upstream'], 'up');
  });

  const smuggling: [string, string][] = [
    ['Content-Length with Transfer-Encoding', 'POST /s HTTP/1.1\r\nHost: up\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: up\r\n\r\n'],
    ['duplicate Content-Length', 'POST /s HTTP/1.1\r\nHost: up\r\nContent-Length: 4\r\nContent-Length: 30\r\n\r\nabcdGET /smuggled HTTP/1.1\r\n\r\n'],
    ['obs-fold', 'GET /s HTTP/1.1\r\nHost: up\r\nX-A: a\r\n b\r\n\r\n'],
    ['space before colon', 'GET /s HTTP/1.1\r\nHost: up\r\nTransfer-Encoding : chunked\r\n\r\n'],
    ['bad chunk size', 'POST /s HTTP/1.1\r\nHost: up\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n'],
    ['chunk size overflow', 'POST /s HTTP/1.1\r\nHost: up\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff1\r\nabc\r\n0\r\n\r\n'],
    ['Transfer-Encoding not chunked last', 'POST /s HTTP/1.1\r\nHost: up\r\nTransfer-Encoding: chunked, identity\r\n\r\n3\r\nabc\r\n0\r\n\r\n'],
  ];
  for (const [name, bytes] of smuggling) {
    it(`smuggling attempt refused: ${name}`, async () => {
      const started = up.started;
      const out = await raw(p.outbound, bytes, 500);
      assert.match(out, /^HTTP\/1.1 400/, out);
      assert.doesNotMatch(out, /HTTP\/1.1 200/);
      assert.equal(up.started, started, 'nothing reached the upstream');
    });
  }

  it('a bad chunk after a large streamed prefix never completes upstream', async () => {
    const seen = up.seen.length;
    const chunk = 'a'.repeat(16 * 1024);
    let body = '';
    for (let i = 0; i < 6; i++) body += `${(16 * 1024).toString(16)}\r\n${chunk}\r\n`;
    const out = await raw(p.outbound, `POST /s HTTP/1.1\r\nHost: up\r\nTransfer-Encoding: chunked\r\n\r\n${body}zz\r\nx\r\n0\r\n\r\n`, 800);
    assert.doesNotMatch(out, /HTTP\/1.1 200/);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(up.seen.length, seen, 'the upstream never saw a complete request');
  });

  it('HTTP/2: a :path with bytes outside visible ASCII → 400 WEFT_BAD_REQUEST, as HTTP/1.1 refuses it', async () => {
    const started = up.started;
    const session = connect(`http://${p.outbound}`);
    session.on('error', () => undefined);
    try {
      const answer = (path: string): Promise<{ status: number; code: unknown }> =>
        within(new Promise((resolve, reject) => {
          const st = session.request({ ':path': path, ':authority': 'up' });
          st.on('response', (h) => resolve({ status: Number(h[':status']), code: h['weft-error'] }));
          st.on('error', reject);
          st.resume();
          st.end();
        }), 10_000, `an HTTP/2 answer for ${JSON.stringify(path)}`);
      for (const bad of ['/public/\u00ff\u00e9', '/a?q=\u0080']) assert.deepEqual(await answer(bad), { status: 400, code: 'WEFT_BAD_REQUEST' }, JSON.stringify(bad));
      assert.equal(up.started, started, 'nothing reached the upstream');
      assert.equal((await answer('/ok/%C3%A9?q=~')).status, 200, 'percent-encoded bytes are fine');
    } finally {
      session.close();
    }
    const out = await raw(p.outbound, 'GET /public/\xff HTTP/1.1\r\nHost: up\r\n\r\n', 500);
    assert.match(out, /^HTTP\/1.1 400/, 'the same target over HTTP/1.1');
  });

  it('oversized headers → 431', async () => {
    const out = await raw(p.outbound, `GET / HTTP/1.1\r\nHost: up\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 500);
    assert.match(out, /^HTTP\/1.1 431/);
  });

  it('unknown host → 404 and never an open proxy', async () => {
    const started = up.started;
    const a = await call(p.outbound, `127.0.0.1:${up.port}`, '/');
    assert.equal(a.status, 404);
    assert.match(a.text, /WEFT_UNKNOWN_HOST/);
    const b = await raw(p.outbound, `GET http://127.0.0.1:${up.port}/ HTTP/1.1\r\nHost: up\r\nConnection: close\r\n\r\n`);
    assert.match(b, /^HTTP\/1.1 404/);
    assert.equal(up.started, started);
  });

  it('inbound: weft-source from a trusted (loopback) peer becomes the caller; the app gets it', async () => {
    const r = await call(p.inbound!, 'me', '/in', { headers: { 'weft-source': 'reviews.default' } });
    assert.equal(r.status, 200);
    assert.equal(r.json().name, 'app');
    assert.equal(app.seen.at(-1)!.headers['weft-source'], 'reviews.default');
  });

  it('inbound: a malformed weft-source is stripped', async () => {
    await call(p.inbound!, 'me', '/in', { headers: { 'weft-source': 'not a service!' } });
    assert.equal(app.seen.at(-1)!.headers['weft-source'], undefined);
  });
});

describe('inbound from an untrusted peer', () => {
  it('strips weft-source when the peer is not in --trust-peers', async () => {
    const app = await startEcho('app');
    const dir = tempDir();
    writeBundle(`${dir}/bundle.json`, bundle(spec([service('me', { endpoints: [] })])));
    const p = await spawnProxy(['--service', 'me', '--bundle', `${dir}/bundle.json`, '--inbound', '127.0.0.1:0', '--app', `http://127.0.0.1:${app.port}`, '--trust-peers', '10.0.0.0/8']);
    try {
      const out = await raw(p.inbound!, 'GET /x HTTP/1.1\r\nHost: me\r\nweft-source: admin.kube-system\r\nConnection: close\r\n\r\n');
      assert.match(out, /^HTTP\/1.1 200/);
      assert.equal(app.seen.at(-1)!.headers['weft-source'], undefined);
    } finally {
      await p.stop();
      await app.close();
    }
  });
});
