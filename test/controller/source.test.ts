/**
 * The proxy side of the protocol. ControllerSource in-process against a scripted controller
 * (long-poll headers, verdict reports, size limit, backoff, re-report after an outage), and a
 * real `weft proxy --controller --trust-key` process fed tampered, re-digested, wrongly signed
 * and unsigned bundles: each is rejected and reported, and the proxy stays on its good bundle.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import http from 'node:http';
import { gzipSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { writeFile } from 'node:fs/promises';
import { compile } from '../../compiler/compile.js';
import type { Bundle } from '../../schemas/bundle.js';
import { digestOf } from '../../schemas/canonical.js';
import { ControllerSource } from '../../runtime/sources/controller-source.js';
import type { BundleSink, LoadVerdict } from '../../runtime/sources/source.js';
import { configOf, killAll, meshFiles, removeTmp, sleep, startProxy, tmpDir, waitFor, writeFiles, type ProxyProc } from './helpers.js';

interface Report {
  proxy: string;
  service: string;
  digest: string | null;
  state: string;
  error: string | null;
}

/** FakeController speaks the protocol with whatever bytes the test gives it. */
class FakeController {
  server: http.Server;
  current: { etag: string; body: Buffer; declaredLength?: number; gzip?: boolean } | null = null;
  reports: Report[] = [];
  requests: { inm: string | undefined; prefer: string | undefined }[] = [];
  failWith: number | null = null;
  private held = new Set<http.ServerResponse>();

  constructor() {
    this.server = http.createServer((req, res) => {
      if (req.method === 'POST' && req.url === '/v1/status') {
        let body = '';
        req.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => {
          this.reports.push(JSON.parse(body) as Report);
          res.writeHead(204).end();
        });
        return;
      }
      const inm = req.headers['if-none-match'];
      const prefer = typeof req.headers.prefer === 'string' ? req.headers.prefer : undefined;
      this.requests.push({ inm, prefer });
      if (this.failWith) {
        res.writeHead(this.failWith).end();
        return;
      }
      if (this.current && inm !== `"${this.current.etag}"`) {
        this.send(res);
        return;
      }
      const wait = Number(/wait=(\d+)/.exec(prefer ?? '')?.[1] ?? 0);
      if (wait === 0) {
        res.writeHead(304).end();
        return;
      }
      this.held.add(res);
      const t = setTimeout(() => {
        if (this.held.delete(res)) res.writeHead(304).end();
      }, wait * 1000);
      res.on('close', () => {
        clearTimeout(t);
        this.held.delete(res);
      });
    });
  }

  private send(res: http.ServerResponse): void {
    const c = this.current!;
    res.writeHead(200, { etag: `"${c.etag}"`, 'content-type': 'application/json', 'content-length': c.declaredLength ?? c.body.length, ...(c.gzip ? { 'content-encoding': 'gzip' } : {}) });
    if (c.declaredLength) res.write(c.body); // then hang: the client must cut it off
    else res.end(c.body);
  }

  /** serve makes `body` current (ETag: sha256 of the bytes) and answers every held request. */
  serve(body: string | Buffer, declaredLength?: number, gzip = false): string {
    const plain = Buffer.isBuffer(body) ? body : Buffer.from(body);
    const etag = `sha256:${createHash('sha256').update(plain).digest('hex')}`;
    const buf = gzip ? gzipSync(plain) : plain;
    this.current = { etag, body: buf, ...(declaredLength ? { declaredLength } : {}), ...(gzip ? { gzip } : {}) };
    for (const res of this.held) this.send(res);
    this.held.clear();
    return etag;
  }

  async listen(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    return new Promise((r) => {
      this.server.close(() => r());
      this.server.closeAllConnections();
    });
  }
}

class RecordingSink implements BundleSink {
  offers: string[] = [];
  verdict: (text: string) => LoadVerdict = (text) => ({ state: 'active', digest: (JSON.parse(text) as { digest: string }).digest });
  offer(text: string): Promise<LoadVerdict> {
    this.offers.push(text);
    return Promise.resolve(this.verdict(text));
  }
}

describe('ControllerSource', { timeout: 60_000 }, () => {
  it('offers each new bundle once, reports the verdict, then long-polls with its ETag', async () => {
    const fake = new FakeController();
    const url = await fake.listen();
    const etag1 = fake.serve(JSON.stringify({ digest: 'sha256:one' }));
    const sink = new RecordingSink();
    const src = new ControllerSource({ url, service: 'web', proxyId: 'p-1', waitSeconds: 5 });
    try {
      await src.start(sink);
      assert.equal(sink.offers.length, 1);
      await waitFor(() => fake.reports.length === 1, 5000, 'first report');
      assert.deepEqual(fake.reports[0], { proxy: 'p-1', service: 'web', digest: 'sha256:one', state: 'active', error: null });
      await waitFor(() => fake.requests.length >= 2, 5000, 'second poll');
      assert.equal(fake.requests[1]?.inm, `"${etag1}"`);
      assert.equal(fake.requests[1]?.prefer, 'wait=5');
      sink.verdict = () => ({ state: 'rejected', digest: 'sha256:two', code: 'WEFT_BUNDLE_SCHEMA', reason: 'nope' });
      const etag2 = fake.serve(JSON.stringify({ digest: 'sha256:two' }));
      await waitFor(() => fake.reports.length === 2, 5000, 'second report');
      assert.deepEqual(fake.reports[1], { proxy: 'p-1', service: 'web', digest: 'sha256:two', state: 'rejected', error: 'WEFT_BUNDLE_SCHEMA: nope' });
      await waitFor(() => fake.requests.length >= 3, 5000, 'third poll');
      assert.equal(fake.requests[2]?.inm, `"${etag2}"`, 'a rejected bundle is not fetched again');
      assert.equal(sink.offers.length, 2);
    } finally {
      await src.stop();
      await fake.close();
    }
  });

  it('cuts off an oversized bundle (plain, declared, or gzip bomb), never offers it, and reports it rejected', async () => {
    const fake = new FakeController();
    const url = await fake.listen();
    const sink = new RecordingSink();
    const src = new ControllerSource({ url, service: 'web', proxyId: 'p-2', waitSeconds: 5, maxBundleBytes: 1000 });
    try {
      const big = fake.serve(Buffer.alloc(5000, 0x20));
      await src.start(sink);
      await waitFor(() => fake.reports.length === 1, 5000, 'report');
      assert.equal(fake.reports[0]?.state, 'rejected');
      assert.match(fake.reports[0]?.error ?? '', /^WEFT_SRC_TOO_LARGE/);
      assert.equal(fake.reports[0]?.digest, big);
      // Declared larger than the limit: refused from the header, without reading the body.
      fake.serve(Buffer.alloc(10, 0x20), 100 * 1024 * 1024);
      await waitFor(() => fake.reports.length === 2, 5000, 'second report');
      assert.match(fake.reports[1]?.error ?? '', /^WEFT_SRC_TOO_LARGE/);
      // Small on the wire, too large once unpacked (a gzip bomb): refused while inflating.
      fake.serve(Buffer.alloc(100_000, 0x20), undefined, true);
      await waitFor(() => fake.reports.length === 3, 5000, 'third report');
      assert.match(fake.reports[2]?.error ?? '', /^WEFT_SRC_TOO_LARGE/);
      assert.equal(sink.offers.length, 0);
      // A gzipped bundle within the limit is unpacked and offered.
      fake.serve(JSON.stringify({ digest: 'sha256:small' }), undefined, true);
      await waitFor(() => fake.reports.length === 4, 5000, 'fourth report');
      assert.deepEqual(sink.offers, [JSON.stringify({ digest: 'sha256:small' })]);
      assert.equal(fake.reports[3]?.state, 'active');
    } finally {
      await src.stop();
      await fake.close();
    }
  });

  it('backs off while the controller fails, then reports its verdict again once it is back', async () => {
    const fake = new FakeController();
    const url = await fake.listen();
    fake.serve(JSON.stringify({ digest: 'sha256:one' }));
    const sink = new RecordingSink();
    const src = new ControllerSource({ url, service: 'web', proxyId: 'p-3', waitSeconds: 1, backoffMs: { initial: 100, max: 400 } });
    try {
      await src.start(sink);
      await waitFor(() => fake.reports.length === 1, 5000, 'report');
      fake.failWith = 500;
      const before = fake.requests.length;
      await sleep(2000);
      const during = fake.requests.length - before;
      // Without backoff this would be thousands; with 100..400 ms delays, a handful.
      assert.ok(during >= 3 && during <= 25, `${during} requests in 2 s while failing`);
      fake.failWith = null;
      await waitFor(() => fake.reports.length >= 2, 5000, 're-report after the outage');
      assert.equal(fake.reports[1]?.digest, 'sha256:one');
      assert.equal(sink.offers.length, 1, 'the same bundle is not offered again');
      const t0 = Date.now();
      fake.failWith = 500;
      await sleep(300);
      await src.stop();
      assert.ok(Date.now() - t0 < 2000, 'stop() does not wait out the backoff');
    } finally {
      await src.stop();
      await fake.close();
    }
  });
});

describe('weft proxy --controller --trust-key rejects bad bundles', { timeout: 120_000 }, () => {
  let dir: string;
  let fake: FakeController;
  let url: string;
  let proxy: ProxyProc;
  let good: Bundle;
  let goodText: string;
  const keyA = generateKeyPairSync('ed25519');
  const keyB = generateKeyPairSync('ed25519');
  const pem = (k: typeof keyA): string => k.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

  async function build(weights: [number, number], key: typeof keyA | null): Promise<string> {
    const src = path.join(dir, `src-${weights.join('-')}`);
    await writeFiles(src, meshFiles({ v1Port: 18001, v2Port: 18002, weights }));
    const r = await compile({ dir: src, ...(key ? { signKey: pem(key) } : {}) });
    assert.ok(r.bundleJson, JSON.stringify(r.diagnostics));
    return r.bundleJson;
  }

  async function rejected(text: string, code: RegExp): Promise<void> {
    const n = fake.reports.length;
    fake.serve(text);
    await waitFor(() => fake.reports.length > n, 15_000, 'report', proxy);
    const r = fake.reports.at(-1)!;
    assert.equal(r.state, 'rejected');
    assert.match(r.error ?? '', code);
    assert.equal((await configOf(proxy)).active?.digest, good.digest, 'still on the good bundle');
  }

  before(async () => {
    dir = await tmpDir('trust');
    fake = new FakeController();
    url = await fake.listen();
    goodText = await build([100, 0], keyA);
    good = JSON.parse(goodText) as Bundle;
    fake.serve(goodText);
    const pub = path.join(dir, 'a.pub');
    await writeFile(pub, keyA.publicKey.export({ type: 'spki', format: 'pem' }).toString());
    proxy = await startProxy(url, 'web', path.join(dir, 'cache'), ['--trust-key', pub]);
    await waitFor(() => fake.reports.some((r) => r.state === 'active' && r.digest === good.digest), 15_000, 'good bundle active', proxy);
  });

  after(async () => {
    await killAll();
    await fake?.close();
    await removeTmp(dir);
  });

  it('rejects a bundle whose bytes changed after signing', async () => {
    const t = JSON.parse(goodText) as Bundle;
    t.spec.services[0]!.endpoints[0]!.port = 9;
    await rejected(JSON.stringify(t), /^WEFT_BUNDLE_DIGEST/);
  });

  it('rejects a changed bundle whose digest was recomputed (the signature no longer matches)', async () => {
    const t = JSON.parse(goodText) as Bundle;
    t.spec.services[0]!.endpoints[0]!.port = 9;
    t.digest = digestOf(t.spec);
    await rejected(JSON.stringify(t), /^WEFT_BUNDLE_SIGNATURE/);
  });

  it('rejects a bundle signed by another key, and an unsigned one', async () => {
    await rejected(await build([0, 100], keyB), /^WEFT_BUNDLE_SIGNATURE/);
    await rejected(await build([0, 100], null), /^WEFT_BUNDLE_UNSIGNED/);
  });

  it('rejects truncated bytes, then accepts the next good signed bundle', async () => {
    await rejected(goodText.slice(0, goodText.length / 2), /^WEFT_BUNDLE_PARSE/);
    const next = await build([50, 50], keyA);
    const n = fake.reports.length;
    fake.serve(next);
    await waitFor(() => fake.reports.length > n, 15_000, 'report', proxy);
    assert.equal(fake.reports.at(-1)?.state, 'active');
    assert.equal((await configOf(proxy)).active?.digest, (JSON.parse(next) as Bundle).digest);
  });
});
