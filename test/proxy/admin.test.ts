/**
 * Admin and operations through a real `weft proxy` process: access log lines, signature
 * enforcement with --trust-key, /config contents, usage errors.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { request } from 'undici';
import { bundle, keyPair, service, spec } from '../helpers/bundle-builder.js';
import { agent, call, getJson, spawnProxy, startEcho, tempDir, waitFor, waitForDigest, WEFT_BIN, writeBundle } from '../helpers/proxy-harness.js';

type Config = { source: string; active: { digest: string; signed: boolean } | null; lastRejection: { code: string } | null; steps: { outbound: string[]; inbound: string[] } };

describe('proxy operations', () => {
  after(() => agent.close());

  it('--access-log writes one JSON line per request', async () => {
    const up = await startEcho('up');
    const dir = tempDir();
    writeBundle(`${dir}/b.json`, bundle(spec([service('up', { endpoints: [`127.0.0.1:${up.port}`] })])));
    const p = await spawnProxy(['--service', 'me', '--bundle', `${dir}/b.json`, '--access-log']);
    try {
      await call(p.outbound, 'up', '/logged?x=1', { headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' } });
      await call(p.outbound, 'nope', '/missing');
      await waitFor(() => p.stdout.length >= 2, 5_000, 'two access log lines');
      const [a, b] = p.stdout.map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.equal(a!['status'], 200);
      assert.equal(a!['path'], '/logged?x=1');
      assert.equal(a!['service'], 'default/up');
      assert.equal(a!['route'], 'default/up#direct');
      assert.equal(a!['trace_id'], '0af7651916cd43dd8448eb211c80319c');
      assert.equal(a!['attempts'], 1);
      assert.equal(b!['status'], 404);
      assert.equal(b!['code'], 'WEFT_UNKNOWN_HOST');
    } finally {
      await p.stop();
      await up.close();
    }
  });

  it('an admin listener on loopback answers only Host values naming this machine (DNS rebinding)', async () => {
    const dir = tempDir();
    writeBundle(`${dir}/b.json`, bundle(spec([service('me', { endpoints: [] })])));
    const p = await spawnProxy(['--service', 'me', '--bundle', `${dir}/b.json`]);
    try {
      const port = p.admin.split(':').pop()!;
      const get = async (host: string): Promise<{ status: number; text: string }> => {
        const r = await request(`http://${p.admin}/config`, { headers: { host }, dispatcher: agent, headersTimeout: 10_000, bodyTimeout: 10_000 });
        return { status: r.statusCode, text: await r.body.text() };
      };
      for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, 'weft.localhost']) {
        const r = await get(host);
        assert.equal(r.status, 200, `${host}: ${r.text}`);
        assert.match(r.text, /"service": "me"/);
      }
      for (const host of [`evil.example:${port}`, `localhost:${port}@evil.example`]) {
        const r = await get(host);
        assert.equal(r.status, 421, `${host}: ${r.text}`);
        assert.doesNotMatch(r.text, /"service"/, 'no /config document');
      }
    } finally {
      await p.stop();
    }
  });

  it('--trust-key: unsigned and wrongly signed bundles are rejected, a signed one is active', async () => {
    const k = keyPair();
    const other = keyPair();
    const dir = tempDir();
    writeFileSync(path.join(dir, 'trust.pem'), k.publicPem);
    const s = spec([service('a', { endpoints: ['127.0.0.1:9'] })]);
    writeBundle(`${dir}/b.json`, bundle(s));
    const p = await spawnProxy(['--service', 'me', '--bundle', `${dir}/b.json`, '--trust-key', path.join(dir, 'trust.pem')]);
    try {
      let cfg = await getJson<Config>(p.admin, '/config');
      assert.equal(cfg.active, null);
      assert.equal(cfg.lastRejection?.code, 'WEFT_BUNDLE_UNSIGNED');
      writeBundle(`${dir}/b.json`, bundle(s, { key: other.privateKey, publicKey: other.publicKey }));
      await waitFor(async () => (await getJson<Config>(p.admin, '/config')).lastRejection?.code === 'WEFT_BUNDLE_SIGNATURE', 10_000, 'signature rejection');
      const good = bundle(s, { key: k.privateKey, publicKey: k.publicKey });
      writeBundle(`${dir}/b.json`, good);
      await waitForDigest(p.admin, good.digest);
      cfg = await getJson<Config>(p.admin, '/config');
      assert.equal(cfg.active?.signed, true);
      assert.match(cfg.source, /^file:/);
      assert.ok(cfg.steps.outbound.includes('route') && cfg.steps.inbound.includes('caller-identity'));
    } finally {
      await p.stop();
    }
  });

  it('usage errors are one line and exit 2', () => {
    for (const args of [['--bundle', 'x.json'], ['--service', 'a'], ['--service', 'a', '--bundle', 'x', '--outbound', 'nonsense'], ['--service', 'a', '--bundle', 'x', '--inbound', '127.0.0.1:0'], ['--service', 'a', '--bundle', 'x', '--bogus']]) {
      const r = spawnSync(process.execPath, [WEFT_BIN, 'proxy', ...args], { encoding: 'utf8', timeout: 20_000 });
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    }
  });
});
