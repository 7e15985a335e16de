/**
 * The controller's discovery routes over real HTTP on loopback: registration and renewal,
 * deregistration, the per-Service endpoint long-poll (ETag, If-None-Match, Prefer: wait, only
 * changed sets), lease expiry, warming, identity from the certificate hook (which also bounds
 * whose sets a caller reads: schemas/reachable.ts), and bad requests.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { request } from 'undici';
import { Controller } from '../../runtime/controller/controller.js';
import { ControllerServer } from '../../runtime/controller/server.js';
import { silentLogger } from '../../runtime/log.js';
import type { EndpointsResponse } from '../../runtime/discovery/protocol.js';
import type { StatusDocument } from '../../runtime/controller/status-document.js';
import { removeTmp, tmpDir } from '../controller/helpers.js';
import { bundle, service, spec } from '../helpers/bundle-builder.js';

interface Answer {
  status: number;
  etag: string | null;
  body: EndpointsResponse | null;
}

async function call(base: string, method: string, p: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: unknown; etag: string | null }> {
  const res = await request(`${base}${p}`, {
    method: method as 'GET',
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    headersTimeout: 30_000,
  });
  const text = await res.body.text();
  const etag = typeof res.headers.etag === 'string' ? res.headers.etag.replace(/"/g, '') : null;
  return { status: res.statusCode, json: text ? JSON.parse(text) : null, etag };
}

async function endpoints(base: string, services: string[], etags: string[] = [], wait = 0, extra: Record<string, string> = {}): Promise<Answer> {
  const q = services.map((s) => `service=${encodeURIComponent(s)}`).join('&');
  const headers: Record<string, string> = { ...extra };
  if (etags.length > 0) headers['if-none-match'] = etags.map((e) => `"${e}"`).join(', ');
  if (wait > 0) headers.prefer = `wait=${wait}`;
  const r = await call(base, 'GET', `/v1/endpoints?${q}`, undefined, headers);
  return { status: r.status, etag: r.etag, body: r.json as EndpointsResponse | null };
}

const reg = (service: string, port: number, ready = true, labels: Record<string, string> = {}) => ({
  service, namespace: 'default', instance: `${service}-${port}`, address: '127.0.0.1', port, labels, ready,
});

async function serve(opts: { leaseMs?: number; peerIdentity?: Controller['peerIdentity'] } = {}): Promise<{ ctl: Controller; server: ControllerServer; base: string; dir: string }> {
  const dir = await tmpDir('disc');
  const ctl = new Controller({
    repo: path.join(dir, 'repo'),
    storeDir: path.join(dir, 'store'),
    pollMs: 60_000,
    logger: silentLogger,
    maxWaitMs: 30_000,
    ...(opts.leaseMs !== undefined ? { leaseMs: opts.leaseMs, heartbeatMs: Math.floor(opts.leaseMs / 3) } : {}),
    ...(opts.peerIdentity ? { peerIdentity: opts.peerIdentity } : {}),
  });
  const server = new ControllerServer(ctl);
  const addr = await server.listen('127.0.0.1', 0);
  return { ctl, server, base: `http://127.0.0.1:${addr.port}`, dir };
}

describe('discovery routes (insecure mode: the registrant named in the request)', { timeout: 60_000 }, () => {
  let s: Awaited<ReturnType<typeof serve>>;
  before(async () => {
    s = await serve({ leaseMs: 1500 });
  });
  after(async () => {
    await s.ctl.close();
    await s.server.close();
    await removeTmp(s.dir);
  });

  it('registers, answers the lease, and serves the set with its version as ETag', async () => {
    const put = await call(s.base, 'PUT', '/v1/endpoints/self', reg('reviews', 19081, true, { version: 'v2' }));
    assert.equal(put.status, 200);
    assert.deepEqual(put.json, { service: 'default/reviews', leaseMs: 1500, heartbeatMs: 500 });
    const got = await endpoints(s.base, ['default/reviews']);
    assert.equal(got.status, 200);
    const set = got.body?.sets[0];
    assert.equal(set?.service, 'default/reviews');
    assert.equal(got.etag, set?.version);
    assert.equal(set?.complete, true);
    assert.deepEqual(set?.endpoints, [{ address: '127.0.0.1', port: 19081, labels: { version: 'v2' }, ready: true, meshed: true, instance: 'reviews-19081' }]);
    const again = await endpoints(s.base, ['reviews'], [set!.version]);
    assert.equal(again.status, 304, 'a bare name means the default namespace');
    await call(s.base, 'DELETE', '/v1/endpoints/self', { service: 'reviews', address: '127.0.0.1', port: 19081 });
  });

  it('holds a poll until a named Service changes, and answers only the changed sets', async () => {
    await call(s.base, 'PUT', '/v1/endpoints/self', reg('details', 19090));
    const first = await endpoints(s.base, ['default/details', 'default/ratings']);
    assert.equal(first.status, 200);
    assert.equal(first.body?.sets.length, 2, 'a first poll gets every set, empty ones included');
    assert.equal(first.etag, null, 'no ETag header for several Services: versions are in the body');
    const versions = first.body!.sets.map((x) => x.version);
    const held = endpoints(s.base, ['default/details', 'default/ratings'], versions, 20);
    await call(s.base, 'PUT', '/v1/endpoints/self', reg('unrelated', 19999));
    await call(s.base, 'PUT', '/v1/endpoints/self', reg('ratings', 19091, false));
    const woke = await held;
    assert.equal(woke.status, 200);
    assert.deepEqual(woke.body?.sets.map((x) => x.service), ['default/ratings']);
    assert.deepEqual(woke.body?.sets[0]?.endpoints.map((e) => [e.port, e.ready]), [[19091, false]]);
    await call(s.base, 'DELETE', '/v1/endpoints/self', { service: 'ratings', address: '127.0.0.1', port: 19091 });
  });

  it('drops an instance whose lease runs out and wakes the polls that named its Service', async () => {
    await call(s.base, 'PUT', '/v1/endpoints/self', reg('expiring', 19100));
    const now = await endpoints(s.base, ['default/expiring']);
    assert.equal(now.body?.sets[0]?.endpoints.length, 1);
    const after = await endpoints(s.base, ['default/expiring'], [now.etag!], 20);
    assert.equal(after.status, 200);
    assert.deepEqual(after.body?.sets[0]?.endpoints, []);
  });

  it('deregisters at once (204), and 404 for an instance it does not hold', async () => {
    await call(s.base, 'PUT', '/v1/endpoints/self', reg('leaving', 19110));
    const now = await endpoints(s.base, ['default/leaving']);
    const held = endpoints(s.base, ['default/leaving'], [now.etag!], 20);
    const del = await call(s.base, 'DELETE', '/v1/endpoints/self', { service: 'leaving', address: '127.0.0.1', port: 19110 });
    assert.equal(del.status, 204);
    assert.deepEqual((await held).body?.sets[0]?.endpoints, []);
    const again = await call(s.base, 'DELETE', '/v1/endpoints/self', { service: 'leaving', address: '127.0.0.1', port: 19110 });
    assert.equal(again.status, 404);
  });

  it('lists instances with readiness and lease age in /v1/status', async () => {
    await call(s.base, 'PUT', '/v1/endpoints/self', reg('listed', 19120, false));
    const st = (await call(s.base, 'GET', '/v1/status')).json as StatusDocument;
    const row = st.discovery.services.find((x) => x.service === 'default/listed');
    assert.equal(row?.ready, 0);
    assert.equal(row?.instances[0]?.ready, false);
    assert.equal(typeof row?.instances[0]?.leaseAgeMs, 'number');
    assert.equal(st.discovery.leaseMs, 1500);
  });

  it('refuses malformed registrations and polls with one readable error', async () => {
    const bad: [unknown, RegExp][] = [
      [{ ...reg('x', 1), service: undefined }, /"service"/],
      [{ ...reg('x', 1), port: 70000 }, /"port"/],
      [{ ...reg('x', 1), address: 'not an address' }, /"address"/],
      [{ ...reg('x', 1), ready: 'yes' }, /"ready"/],
      [{ ...reg('x', 1), labels: { a: 1 } }, /"labels"/],
      [[1, 2], /JSON object/],
    ];
    for (const [body, msg] of bad) {
      const r = await call(s.base, 'PUT', '/v1/endpoints/self', body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.match((r.json as { error: { message: string } }).error.message, msg);
    }
    assert.equal((await endpoints(s.base, [])).status, 400);
    assert.equal((await endpoints(s.base, ['a/b/c'])).status, 400);
    assert.equal((await endpoints(s.base, Array.from({ length: 257 }, (_, i) => `s${i}`))).status, 400);
  });
});

describe('discovery routes with identity on', { timeout: 30_000 }, () => {
  it('takes the Service from the certificate, never from the body', async () => {
    // The hook stands for the TLS layer's verified peer certificate; here the test names it.
    const s = await serve({ peerIdentity: (req) => (typeof req.headers['x-test-cert'] === 'string' ? { service: req.headers['x-test-cert'], namespace: 'default' } : null) });
    const asReviews = { 'x-test-cert': 'reviews' };
    try {
      const before = await call(s.base, 'GET', '/v1/endpoints?service=default/reviews', undefined, asReviews);
      assert.deepEqual([before.status, (before.json as { error: { code: string } }).error.code], [503, 'WEFT_CTL_NOT_READY'], 'no bundle, no reach to judge by');
      // web reaches reviews only (its egress scope); reviews reaches everything (no scope).
      const web = { ...service('web'), egress: ['default/reviews'] };
      const b = bundle(spec([web, service('reviews'), service('ratings')]));
      s.ctl.serve({ digest: b.digest, bytes: Buffer.from(JSON.stringify(b)), bundle: b, commit: null, publishedAt: new Date().toISOString() });
      const spoof = await call(s.base, 'PUT', '/v1/endpoints/self', reg('ratings', 19200), asReviews);
      assert.equal(spoof.status, 200);
      assert.equal((spoof.json as { service: string }).service, 'default/reviews');
      assert.deepEqual((await endpoints(s.base, ['default/ratings'], [], 0, asReviews)).body?.sets[0]?.endpoints, []);
      assert.equal((await endpoints(s.base, ['default/reviews'], [], 0, asReviews)).body?.sets[0]?.endpoints.length, 1);
      // A certificate reads what its Service reaches, nothing else, and nothing without one.
      assert.equal((await endpoints(s.base, ['default/reviews', 'default/web'], [], 0, { 'x-test-cert': 'web' })).status, 200);
      const out = await call(s.base, 'GET', '/v1/endpoints?service=default/reviews&service=default/ratings', undefined, { 'x-test-cert': 'web' });
      assert.equal(out.status, 403);
      assert.match((out.json as { error: { message: string } }).error.message, /default\/web does not reach default\/ratings/);
      assert.equal((await endpoints(s.base, ['default/reviews'])).status, 403, 'no certificate');
      const anonymous = await call(s.base, 'PUT', '/v1/endpoints/self', reg('reviews', 19201));
      assert.equal(anonymous.status, 403);
      assert.equal((anonymous.json as { error: { code: string } }).error.code, 'WEFT_CTL_FORBIDDEN');
    } finally {
      await s.ctl.close();
      await s.server.close();
      await removeTmp(s.dir);
    }
  });
});

describe('discovery after a controller restart', { timeout: 30_000 }, () => {
  it('serves incomplete sets for one lease, then complete ones, waking held polls', async () => {
    const s = await serve({ leaseMs: 1000 });
    // Warming lasts one lease from warm(), and the registration's lease runs from its PUT, a few
    // ms later: without heartbeats the two end together and a slow machine answers the woken poll
    // after the lease is gone. The instance heartbeats, as a proxy does.
    let beat: NodeJS.Timeout | undefined;
    try {
      s.ctl.discovery.warm();
      await call(s.base, 'PUT', '/v1/endpoints/self', reg('warm', 19300));
      beat = setInterval(() => void call(s.base, 'PUT', '/v1/endpoints/self', reg('warm', 19300)).catch(() => undefined), 100);
      const during = await endpoints(s.base, ['default/warm']);
      assert.equal(during.body?.sets[0]?.complete, false);
      const later = await endpoints(s.base, ['default/warm'], [during.etag!], 20);
      assert.equal(later.status, 200);
      assert.equal(later.body?.sets[0]?.complete, true);
      assert.equal(later.body?.sets[0]?.endpoints.length, 1);
    } finally {
      clearInterval(beat);
      await s.ctl.close();
      await s.server.close();
      await removeTmp(s.dir);
    }
  });
});
