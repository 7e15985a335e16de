/**
 * ProxyProcess-to-proxy mTLS end to end, real `weft proxy` processes on loopback with file certificates
 * from one mesh CA: web's app → web's proxy (outbound, presents web's SVID, checks the server is
 * the chosen Service) → ratings' proxy (inbound, STRICT: requires a mesh client certificate) →
 * ratings' app. Proves: the caller is only what its certificate says (a forged weft-source or XFCC
 * changes nothing; the app gets XFCC); plaintext and bad client certificates are refused; an
 * endpoint whose certificate names another Service is refused by the caller; PERMISSIVE takes
 * plaintext callers with no identity.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import http2 from 'node:http2';
import { connect as netConnect } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { createCa, type MeshCa } from '../../../runtime/identity/ca.js';
import type { AuthorizationSettings, BundleSpec, Endpoint } from '../../../schemas/bundle.js';
import { bundle, service, spec } from '../../helpers/bundle-builder.js';
import { otherCa, rogueLeaf, workload, type Workload } from '../../helpers/identity-kit.js';
import { closeAgent, removeDir, getText, metricValue, send, sleep, startApp, startProxy, tempDir, waitForDigest, within, writeBundle, type App, type ProxyProcess } from '../../helpers/proxy-harness.js';

let ca: MeshCa;
let dir: string;
let cleanup: () => Promise<void>;
let file: string;
let ratingsApp: App;
let ratings: ProxyProcess;
let web: ProxyProcess;
let webCert: Workload;

const authz: AuthorizationSettings = {
  deny: [],
  allow: [
    {
      policy: 'default/ratings',
      rules: [
        { from: [{ service: 'web', namespace: 'default' }], to: [{ methods: null, paths: ['/ratings/*'] }], when: null },
        { from: [{ service: 'admin', namespace: 'default' }], to: [{ methods: null, paths: ['/admin/*'] }], when: null },
        { from: null, to: [{ methods: null, paths: ['/public/*'] }], when: null },
      ],
    },
  ],
};

function meshSpec(ratingsInbound: string | null, mode: 'STRICT' | 'PERMISSIVE' = 'STRICT'): BundleSpec {
  const ep: Endpoint[] = ratingsInbound ? [{ address: '127.0.0.1', port: Number(ratingsInbound.split(':').pop()), labels: {}, meshed: true }] : [];
  const r = service('ratings', { endpoints: ep });
  r.authorization = authz;
  if (mode === 'PERMISSIVE') r.mtls = { mode: 'PERMISSIVE' };
  // payments' only endpoint is ratings' proxy: its certificate names ratings, not payments.
  const payments = service('payments', { endpoints: ep });
  return spec([service('web'), r, payments]);
}

async function certFiles(name: string, w: Workload): Promise<string[]> {
  await writeFile(path.join(dir, `${name}.crt`), w.certPem);
  await writeFile(path.join(dir, `${name}.key`), w.keyPem);
  return ['--cert', path.join(dir, `${name}.crt`), '--key', path.join(dir, `${name}.key`), '--ca', path.join(dir, 'ca.pem')];
}

before(async () => {
  ca = await createCa('weft.local');
  dir = tempDir('weft-mtls-');
  cleanup = () => removeDir(dir);
  await writeFile(path.join(dir, 'ca.pem'), ca.certPem);
  file = path.join(dir, 'mesh.json');
  await writeBundle(file, bundle(meshSpec(null)));
  ratingsApp = await startApp('ratings-app');
  ratings = await startProxy({ service: 'ratings', bundle: file, app: `http://127.0.0.1:${ratingsApp.port}`, extra: await certFiles('ratings', await workload(ca, 'ratings')) });
  const b = bundle(meshSpec(ratings.inbound));
  await writeBundle(file, b);
  await waitForDigest(ratings.admin, b.digest);
  webCert = await workload(ca, 'web');
  web = await startProxy({ service: 'web', bundle: file, extra: await certFiles('web', webCert) });
  await waitForDigest(web.admin, b.digest);
});

after(async () => {
  await Promise.all([web?.stop(), ratings?.stop()]);
  await ratingsApp?.close();
  closeAgent();
  await cleanup?.();
});

/**
 * direct speaks HTTP/1.1 straight to ratings' inbound listener, over TLS with `client` (or over
 * plaintext when null), and returns the status line, or `refused` when the connection ended
 * without an HTTP response (handshake refused, or closed by the listener).
 */
function direct(client: Workload | null, trust = ca.certPem, headers: Record<string, string> = {}): Promise<string> {
  const [host, port] = [ratings.inbound!.split(':')[0]!, Number(ratings.inbound!.split(':').pop())];
  const request = `GET /ratings/1 HTTP/1.1\r\nhost: ratings\r\nconnection: close\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
  return new Promise((resolve) => {
    let data = '';
    const sock = client
      ? tlsConnect({ host, port, key: client.keyPem, cert: client.certPem, ca: trust, checkServerIdentity: () => undefined, ALPNProtocols: ['http/1.1'] }, () => sock.write(request))
      : netConnect({ host, port }, () => sock.write(request));
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => (data += d));
    sock.on('error', () => {});
    sock.on('close', () => resolve(data.startsWith('HTTP/1.1') ? data.split('\r\n')[0]! : 'refused'));
    sock.setTimeout(10_000, () => sock.destroy());
  });
}

describe('mTLS between proxies', () => {
  it('the callee sees the caller from its certificate, in XFCC, and no weft-source', async () => {
    const n = ratingsApp.seen.length;
    const r = await send(web.outbound!, 'ratings', '/ratings/1');
    assert.equal(r.status, 200, r.body);
    const seen = ratingsApp.seen[n]!;
    assert.match(String(seen.headers['x-forwarded-client-cert']), /^By=spiffe:\/\/weft\.local\/ns\/default\/sa\/ratings;Hash=[0-9a-f]{64};URI=spiffe:\/\/weft\.local\/ns\/default\/sa\/web$/);
    assert.equal(seen.headers['weft-source'], undefined);
    const metrics = await getText(ratings.admin, '/metrics');
    assert.ok(metricValue(metrics, 'weft_inbound_requests_by_caller_total', { caller: 'default/web' }) >= 1);
  });

  it('a forged weft-source or XFCC changes nothing: policy and the app see the certificate', async () => {
    const n = ratingsApp.seen.length;
    const forged = { 'weft-source': 'admin.default', 'x-forwarded-client-cert': 'By=spiffe://weft.local/ns/default/sa/ratings;URI=spiffe://weft.local/ns/default/sa/admin' };
    const denied = await send(web.outbound!, 'ratings', '/admin/x', { headers: forged });
    assert.equal(denied.status, 403, 'web claiming to be admin is still web');
    const ok = await send(web.outbound!, 'ratings', '/ratings/2', { headers: forged });
    assert.equal(ok.status, 200);
    assert.equal(ratingsApp.seen.length, n + 1, 'only the allowed request reached the app');
    const xfcc = String(ratingsApp.seen[n]!.headers['x-forwarded-client-cert']);
    assert.match(xfcc, /URI=spiffe:\/\/weft\.local\/ns\/default\/sa\/web$/);
    assert.doesNotMatch(xfcc, /admin/);
    assert.equal(ratingsApp.seen[n]!.headers['weft-source'], undefined);
  });

  it('identity look-alikes spelled with "_" never reach the app (CGI-style servers read them as XFCC)', async () => {
    const lookalikes = { x_forwarded_client_cert: 'By=spiffe://weft.local/ns/default/sa/ratings;URI=spiffe://weft.local/ns/default/sa/admin', 'X-Forwarded_Client-Cert': 'URI=spiffe://weft.local/ns/default/sa/admin', weft_source: 'admin.default', x_other_header: 'kept' };
    // Straight to the inbound listener, as any mesh peer can, and through web's outbound.
    const start = ratingsApp.seen.length;
    let n = start;
    assert.equal(await direct(webCert, ca.certPem, lookalikes), 'HTTP/1.1 200 OK');
    const ok = await send(web.outbound!, 'ratings', '/ratings/3', { headers: lookalikes });
    assert.equal(ok.status, 200, ok.body);
    for (; n < ratingsApp.seen.length; n++) {
      const h = ratingsApp.seen[n]!.headers;
      assert.deepEqual(Object.keys(h).filter((k) => k.includes('_')), ['x_other_header'], `only the unrelated underscore header is kept: ${JSON.stringify(h)}`);
      assert.match(String(h['x-forwarded-client-cert']), /URI=spiffe:\/\/weft\.local\/ns\/default\/sa\/web$/);
    }
    assert.equal(n - start, 2, 'both requests reached the app');
  });

  it('a STRICT inbound refuses plaintext, even with a forged weft-source', async () => {
    const n = ratingsApp.seen.length;
    assert.equal(await direct(null, ca.certPem, { 'weft-source': 'web.default' }), 'refused');
    assert.equal(ratingsApp.seen.length, n);
  });

  it('refuses client certificates from another CA, expired, with two URI SANs, or of another trust domain', async () => {
    // The control: the same request with a good certificate is answered.
    assert.equal(await direct(webCert), 'HTTP/1.1 200 OK');
    const n = ratingsApp.seen.length;
    const foreign = await otherCa();
    const cases: [string, Workload][] = [
      ['another CA', await workload(foreign, 'web')],
      ['expired', await rogueLeaf(ca, ['spiffe://weft.local/ns/default/sa/web'], { notBefore: new Date(Date.now() - 7200_000), notAfter: new Date(Date.now() - 3600_000) })],
      ['two URI SANs', await rogueLeaf(ca, ['spiffe://weft.local/ns/default/sa/web', 'spiffe://weft.local/ns/default/sa/admin'])],
      ['another trust domain', await rogueLeaf(ca, ['spiffe://evil.example/ns/default/sa/web'])],
      ['not a workload ID', await rogueLeaf(ca, ['spiffe://weft.local/web'])],
    ];
    for (const [what, cert] of cases) assert.equal(await direct(cert), 'refused', what);
    assert.equal(ratingsApp.seen.length, n, 'none reached the app');
    const metrics = await getText(ratings.admin, '/metrics');
    assert.ok(metricValue(metrics, 'weft_tls_handshakes_total', { direction: 'inbound', result: 'WEFT_ID_CERT_SAN' }) >= 2);
  });

  it('the caller refuses an endpoint whose certificate names another Service', async () => {
    const n = ratingsApp.seen.length;
    const r = await send(web.outbound!, 'payments', '/ratings/1');
    assert.equal(r.status, 503, r.body);
    assert.equal(r.headers['weft-error'], 'WEFT_UPSTREAM_IDENTITY');
    assert.match(r.body, /names spiffe:\/\/weft\.local\/ns\/default\/sa\/ratings, not spiffe:\/\/weft\.local\/ns\/default\/sa\/payments/);
    assert.equal(ratingsApp.seen.length, n, 'no request was sent to the impostor');
    const metrics = await getText(web.admin, '/metrics');
    assert.ok(metricValue(metrics, 'weft_tls_handshakes_total', { direction: 'outbound', result: 'WEFT_UPSTREAM_IDENTITY' }) >= 1);
  });

  it('PERMISSIVE accepts plaintext on the same port, with no identity; TLS callers keep theirs', async () => {
    const b = bundle(meshSpec(ratings.inbound, 'PERMISSIVE'));
    await writeBundle(file, b);
    await Promise.all([waitForDigest(ratings.admin, b.digest), waitForDigest(web.admin, b.digest)]);
    try {
      assert.equal(await direct(null), 'HTTP/1.1 403 Forbidden', 'a plaintext caller is no one: the from-rule does not match');
      const n = ratingsApp.seen.length;
      const [h, p] = [ratings.inbound!.split(':')[0]!, ratings.inbound!.split(':').pop()!];
      const pub = await send(`${h}:${p}`, 'ratings', '/public/x', { headers: { 'weft-source': 'web.default', 'x-forwarded-client-cert': 'URI=spiffe://weft.local/ns/default/sa/web' } });
      assert.equal(pub.status, 200);
      assert.equal(ratingsApp.seen[n]!.headers['x-forwarded-client-cert'], undefined, 'a plaintext caller gets no XFCC, forged or not');
      assert.equal(ratingsApp.seen[n]!.headers['weft-source'], undefined);
      assert.equal((await send(web.outbound!, 'ratings', '/ratings/3')).status, 200, 'mTLS callers are still identified');
    } finally {
      const strict = bundle(meshSpec(ratings.inbound));
      await writeBundle(file, strict);
      await Promise.all([waitForDigest(ratings.admin, strict.digest), waitForDigest(web.admin, strict.digest)]);
    }
    assert.equal(await direct(null), 'refused', 'back to STRICT');
  });

  it('HTTP/2 over TLS (ALPN h2) to the inbound: same certificate check, same caller', async () => {
    const n = ratingsApp.seen.length;
    const session = http2.connect(`https://${ratings.inbound!}`, { key: webCert.keyPem, cert: webCert.certPem, ca: ca.certPem, checkServerIdentity: () => undefined });
    try {
      const status = await within(
        new Promise<number>((resolve, reject) => {
          const req = session.request({ ':path': '/ratings/9', ':authority': 'ratings', 'weft-source': 'admin.default' });
          req.on('response', (h) => resolve(Number(h[':status'])));
          req.on('error', reject);
          req.resume();
          req.end();
        }),
        10_000,
        'an answer from the inbound over HTTP/2 over TLS',
      );
      assert.equal(status, 200);
      assert.equal((session.socket as import('node:tls').TLSSocket).alpnProtocol, 'h2');
    } finally {
      session.close();
    }
    assert.match(String(ratingsApp.seen[n]!.headers['x-forwarded-client-cert']), /URI=spiffe:\/\/weft\.local\/ns\/default\/sa\/web$/);
    assert.equal(ratingsApp.seen[n]!.headers['weft-source'], undefined);
  });

  it('a connection kept open past its caller certificate\'s expiry is no longer that caller', async () => {
    // A certificate that expires in a few seconds; the first request must be answered while it is
    // valid (on a loaded machine the handshake can be slow: then try again with a fresh one).
    let session: http2.ClientHttp2Session | null = null;
    let notAfter = 0;
    const ask = (s: http2.ClientHttp2Session): Promise<{ status: number; code: string | undefined }> =>
      within(
        new Promise((resolve, reject) => {
          const req = s.request({ ':path': '/ratings/7', ':authority': 'ratings' });
          req.on('response', (h) => resolve({ status: Number(h[':status']), code: h['weft-error'] as string | undefined }));
          req.on('error', reject);
          req.resume();
          req.end();
        }),
        10_000,
        'an answer from the inbound over HTTP/2',
      );
    try {
      for (let attempt = 0; attempt < 3 && !session; attempt++) {
        notAfter = Date.now() + 4000;
        const short = await rogueLeaf(ca, ['spiffe://weft.local/ns/default/sa/web'], { notAfter: new Date(notAfter) });
        const s = http2.connect(`https://${ratings.inbound!}`, { key: short.keyPem, cert: short.certPem, ca: ca.certPem, checkServerIdentity: () => undefined });
        s.on('error', () => {});
        const first = await ask(s);
        if (Date.now() < notAfter - 1000) {
          assert.equal(first.status, 200, 'answered as web while the certificate is valid');
          session = s;
        } else {
          s.destroy();
        }
      }
      assert.ok(session, 'a first request answered within the certificate\'s lifetime');
      await sleep(Math.max(0, notAfter - Date.now()) + 500);
      const n = ratingsApp.seen.length;
      const later = await ask(session);
      assert.deepEqual([later.status, later.code], [403, 'WEFT_ID_CERT_EXPIRED'], 'the same session, after expiry');
      assert.equal(ratingsApp.seen.length, n, 'nothing reached the app');
      const metrics = await getText(ratings.admin, '/metrics');
      assert.ok(metricValue(metrics, 'weft_inbound_requests_by_caller_total', { caller: 'expired' }) >= 1);
    } finally {
      session?.destroy();
    }
  });

  it('/config shows the identity in force', async () => {
    const cfg = JSON.parse(await getText(ratings.admin, '/config')) as { identity: { mode: string; inbound: string; spiffeId: string; notAfter: string } };
    assert.equal(cfg.identity.mode, 'mtls');
    assert.equal(cfg.identity.inbound, 'STRICT');
    assert.equal(cfg.identity.spiffeId, 'spiffe://weft.local/ns/default/sa/ratings');
    assert.ok(Date.parse(cfg.identity.notAfter) > Date.now());
  });
});
