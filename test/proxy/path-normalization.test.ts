/**
 * Path normalisation options through a real `weft proxy` (issue 13 item 7): an ALLOW rule on
 * `/data/*` is not passed by `/data/..;/secret` (which a Tomcat/Spring app resolves to `/secret`),
 * whatever the options; encoded slashes can be kept for APIs that need them; the options change
 * on reload.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { PathNormalization } from '../../schemas/bundle.js';
import { DEFAULT_PROXY_SETTINGS } from '../../schemas/proxy-settings.js';
import { bundle, service, spec } from '../helpers/bundle-builder.js';
import { agent, raw, spawnProxy, startEcho, tempDir, waitForDigest, writeBundle, type Echo, type ProxyProcess } from '../helpers/proxy-harness.js';

describe('path normalisation options on the inbound listener', () => {
  let app: Echo;
  let p: ProxyProcess;
  let dir: string;
  let publish: (pn: Partial<PathNormalization>) => Promise<void>;
  before(async () => {
    app = await startEcho('app');
    dir = tempDir();
    const file = path.join(dir, 'bundle.json');
    publish = async (pn) => {
      const me = service('me', { endpoints: [] });
      me.authorization = { deny: [], allow: [{ policy: 'default/data-only', rules: [{ from: null, to: [{ methods: null, paths: ['/data/*', '/api/vhosts/*'] }], when: null }] }] };
      const b = bundle(spec([me], { proxy: { ...DEFAULT_PROXY_SETTINGS, pathNormalization: { ...DEFAULT_PROXY_SETTINGS.pathNormalization, ...pn } } }));
      writeBundle(file, b);
      if (p) await waitForDigest(p.admin, b.digest);
    };
    await publish({});
    p = await spawnProxy(['--service', 'me', '--bundle', file, '--inbound', '127.0.0.1:0', '--app', `http://127.0.0.1:${app.port}`]);
  });
  after(async () => {
    await p.stop();
    await app.close();
    await agent.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const get = (target: string): Promise<string> => raw(p.inbound!, `GET ${target} HTTP/1.1\r\nHost: me\r\nConnection: close\r\n\r\n`, 3_000);

  it('default: /data/..;/secret is refused (400 dot-segment-parameter), never forwarded', async () => {
    const seen = app.seen.length;
    const out = await get('/data/..;/secret');
    assert.match(out, /^HTTP\/1.1 400[^]*WEFT_BAD_PATH: dot-segment-parameter/);
    assert.equal(app.seen.length, seen);
    assert.match(await get('/data/x;jsessionid=1'), /^HTTP\/1.1 200/, 'parameters on a name pass');
  });

  it('stripPathParameters: /data/..;/secret is /secret, which the ALLOW rule refuses (403)', async () => {
    await publish({ stripPathParameters: true });
    const seen = app.seen.length;
    assert.match(await get('/data/..;/secret'), /^HTTP\/1.1 403/);
    assert.equal(app.seen.length, seen);
    await get('/data/a;x=1');
    assert.equal(app.seen.at(-1)?.url, '/data/a', 'the app gets the stripped path');
    await publish({});
  });

  it('escapedSlashes: Reject (default) 400; KeepUnchanged forwards %2F encoded; UnescapeAndForward decodes then authorises', async () => {
    assert.match(await get('/api/vhosts/%2F/queues'), /^HTTP\/1.1 400[^]*encoded-separator/);
    await publish({ escapedSlashes: 'KeepUnchanged' });
    assert.match(await get('/api/vhosts/%2f/queues'), /^HTTP\/1.1 200/);
    assert.equal(app.seen.at(-1)?.url, '/api/vhosts/%2F/queues');
    await publish({ escapedSlashes: 'UnescapeAndForward' });
    const seen = app.seen.length;
    assert.match(await get('/data%2F..%2Fsecret'), /^HTTP\/1.1 403/, 'decoded, /data/../secret is /secret');
    assert.equal(app.seen.length, seen);
    await publish({});
  });
});
