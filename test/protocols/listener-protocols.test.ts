/**
 * Listener protocols through a real `weft proxy` process: HTTP/1.1 and HTTP/2 (h2c with prior
 * knowledge) clients on the same port reach the same pipeline, and a 2 MiB upload with
 * `Expect: 100-continue` arrives intact through the outbound and the inbound listener (the proxy
 * answers 100 itself and does not forward the expectation).
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { request as h1request } from 'node:http';
import { connect as h2connect } from 'node:http2';
import { after, before, describe, it } from 'node:test';
import { bundle, service, spec } from '../helpers/bundle-builder.js';
import { agent, call, spawnProxy, startEcho, tempDir, writeBundle, type Echo, type ProxyProcess } from '../helpers/proxy-harness.js';

function hostPort(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(':');
  return { host: addr.slice(0, i), port: Number(addr.slice(i + 1)) };
}

/** h2get sends one HTTP/2 request with prior knowledge and reads the whole response. */
async function h2call(addr: string, authority: string, path: string, body?: Buffer): Promise<{ status: number; headers: Record<string, unknown>; text: string }> {
  const session = h2connect(`http://${addr}`);
  try {
    return await new Promise((resolve, reject) => {
      session.on('error', reject);
      const stream = session.request({ ':method': body ? 'POST' : 'GET', ':path': path, ':authority': authority });
      let status = 0;
      let headers: Record<string, unknown> = {};
      const chunks: Buffer[] = [];
      stream.on('response', (h) => {
        status = Number(h[':status']);
        headers = h;
      });
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => resolve({ status, headers, text: Buffer.concat(chunks).toString('utf8') }));
      stream.on('error', reject);
      stream.end(body);
    });
  } finally {
    session.close();
  }
}

/** expectUpload sends `body` with Expect: 100-continue, only after the server said 100. */
function expectUpload(addr: string, host: string, body: Buffer): Promise<{ status: number; sawContinue: boolean; text: string }> {
  const { host: h, port } = hostPort(addr);
  return new Promise((resolve, reject) => {
    let sawContinue = false;
    const req = h1request({ host: h, port, method: 'PUT', path: '/upload', headers: { host, expect: '100-continue', 'content-length': String(body.length) } });
    req.on('continue', () => {
      sawContinue = true;
      req.end(body);
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, sawContinue, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.flushHeaders();
  });
}

describe('listener protocols', () => {
  let up: Echo;
  let app: Echo;
  let p: ProxyProcess;
  const digests = new Map<string, string>();
  before(async () => {
    up = await startEcho('up');
    app = await startEcho('app');
    for (const e of [up, app]) {
      e.behave = (req, res, body) => {
        if (req.url !== '/upload') return false;
        digests.set(e.name, createHash('sha256').update(body, 'utf8').digest('hex'));
        res.writeHead(200, { 'x-expect': String(req.headers['expect'] ?? 'none') });
        res.end(String(Buffer.byteLength(body, 'utf8')));
        return true;
      };
    }
    const dir = tempDir();
    writeBundle(`${dir}/bundle.json`, bundle(spec([service('up', { endpoints: [`127.0.0.1:${up.port}`] }), service('me', { endpoints: [] })])));
    p = await spawnProxy(['--service', 'me', '--bundle', `${dir}/bundle.json`, '--inbound', '127.0.0.1:0', '--app', `http://127.0.0.1:${app.port}`]);
  });
  after(async () => {
    await p.stop();
    await Promise.all([up.close(), app.close()]);
    await agent.close();
  });

  it('serves HTTP/1.1 and h2c (prior knowledge) clients on the same outbound port', async () => {
    const h1 = await call(p.outbound, 'up', '/same?x=1');
    assert.equal(h1.status, 200);
    assert.equal(h1.json().url, '/same?x=1');
    const h2 = await h2call(p.outbound, 'up', '/same?x=2');
    assert.equal(h2.status, 200);
    const seen = JSON.parse(h2.text) as { url: string; headers: Record<string, string> };
    assert.equal(seen.url, '/same?x=2');
    assert.equal(seen.headers['host'], 'up');
    assert.equal(h2.headers['x-upstream'], 'up');
  });

  it('serves h2c on the inbound port too, and routes an unknown host to 404 over HTTP/2', async () => {
    const r = await h2call(p.inbound!, 'me', '/in');
    assert.equal(r.status, 200);
    assert.equal((JSON.parse(r.text) as { url: string }).url, '/in');
    const miss = await h2call(p.outbound, 'nowhere', '/');
    assert.equal(miss.status, 404);
    assert.match(miss.text, /WEFT_UNKNOWN_HOST/);
  });

  for (const side of ['outbound', 'inbound'] as const) {
    it(`passes a 2 MiB upload with Expect: 100-continue through the ${side} listener intact`, async () => {
      const body = randomBytes(2 * 1024 * 1024).toString('base64').slice(0, 2 * 1024 * 1024);
      const r = await expectUpload(side === 'outbound' ? p.outbound : p.inbound!, side === 'outbound' ? 'up' : 'me', Buffer.from(body));
      assert.equal(r.status, 200);
      assert.equal(r.sawContinue, true);
      assert.equal(r.text, String(2 * 1024 * 1024));
      assert.equal(digests.get(side === 'outbound' ? 'up' : 'app'), createHash('sha256').update(body).digest('hex'));
    });
  }

  it('takes a 2 MiB HTTP/2 upload through the outbound listener', async () => {
    const body = Buffer.from(randomBytes(2 * 1024 * 1024).toString('hex').slice(0, 2 * 1024 * 1024));
    const r = await h2call(p.outbound, 'up', '/upload', body);
    assert.equal(r.status, 200);
    assert.equal(r.text, String(body.length));
    assert.equal(digests.get('up'), createHash('sha256').update(body).digest('hex'));
  });
});
