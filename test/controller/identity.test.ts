/**
 * The controller as the mesh CA and an mTLS control channel, as real processes on loopback:
 * `weft ca init`, `weft token create`, `weft controller --ca-dir` (TLS, its own SPIFFE ID),
 * bootstrap with a join token (used once, across restarts), renewal with the current certificate,
 * proxy-facing routes refused without a valid client certificate (none, another CA, expired, two
 * URI SANs, another trust domain), a proxy speaking only for itself, the read-only dashboard
 * listener, the webhook's hardening, and the controller source fetching over mTLS.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sign } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { createSecureContext } from 'node:tls';
import { request, type Dispatcher } from 'undici';
import { loadCaDir, type MeshCa } from '../../runtime/identity/ca.js';
import { createCsr } from '../../runtime/identity/csr.js';
import { loadTrustBundle } from '../../runtime/identity/trust-bundle.js';
import { StaticTlsClientIdentity } from '../../runtime/identity/tls-client-identity.js';
import { verifyLeaf } from '../../runtime/identity/verify-leaf.js';
import { controllerDispatcher } from '../../runtime/sources/controller-tls.js';
import { ControllerSource } from '../../runtime/sources/controller-source.js';
import type { LoadVerdict } from '../../runtime/sources/source.js';
import { hubSignature } from '../../runtime/controller/webhook.js';
import { otherCa, rogueLeaf, workload, type Workload } from '../helpers/identity-kit.js';
import { initRepo, killAll, meshFiles, removeTmp, spawnWeft, startController, tmpDir, waitFor, type ControllerProc } from './helpers.js';

const TD = 'weft.local';

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

async function call(d: Dispatcher, url: string, opts: { method?: 'GET' | 'POST'; body?: unknown } = {}): Promise<Answer> {
  const res = await request(url, {
    method: opts.method ?? 'GET',
    dispatcher: d,
    ...(opts.body !== undefined ? { body: JSON.stringify(opts.body), headers: { 'content-type': 'application/json' } } : {}),
  });
  const text = await res.body.text();
  let body: Record<string, unknown> = {};
  try {
    body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    body = { text };
  }
  return { status: res.statusCode, body };
}

const codeOf = (a: Answer): unknown => (a.body.error as { code?: string } | undefined)?.code;

describe('weft controller --ca-dir: issuer and mTLS control channel', { timeout: 180_000 }, () => {
  let dir: string;
  let caDir: string;
  let store: string;
  let repo: string;
  let ca: MeshCa;
  let ctl: ControllerProc;
  const agents: Dispatcher[] = [];
  const start = (): Promise<ControllerProc> =>
    startController(['--repo', repo, '--store', store, '--ca-dir', caDir, '--cert-ttl', '1h', '--dashboard', '127.0.0.1:0', '--webhook-secret', 'hook-secret']);
  /** client is a dispatcher trusting the mesh CA, with `w`'s certificate when given. */
  const client = (w?: Workload): Dispatcher => {
    const d = controllerDispatcher(createSecureContext({ ca: ca.certPem, ...(w ? { key: w.keyPem, cert: w.certPem } : {}) }), TD, { keepAliveTimeoutMs: 1000 });
    agents.push(d);
    return d;
  };
  const token = async (service: string, uses = 1): Promise<string> => {
    const t = spawnWeft(['token', 'create', '--ca-dir', caDir, '--service', service, '--uses', String(uses)]);
    assert.equal(await t.exited, 0);
    return t.stdout.join('').trim();
  };

  before(async () => {
    dir = await tmpDir('identity');
    caDir = path.join(dir, 'ca');
    store = path.join(dir, 'store');
    repo = path.join(dir, 'repo');
    const init = spawnWeft(['ca', 'init', '--out-dir', caDir]);
    assert.equal(await init.exited, 0);
    ca = await loadCaDir(caDir);
    await initRepo(repo, meshFiles({ v1Port: 18101, v2Port: 18102, weights: [100, 0] }));
    ctl = await start();
    await waitFor(async () => (await call(client(), `${ctl.url}/readyz`)).status === 200, 30_000, 'a bundle');
  });
  after(async () => {
    await Promise.all(agents.map((a) => a.close().catch(() => undefined)));
    await killAll();
    await removeTmp(dir);
  });

  it('refuses to start without --ca-dir unless --insecure', async () => {
    const c = spawnWeft(['controller', '--repo', repo, '--store', path.join(dir, 's-insecure'), '--listen', '127.0.0.1:0', '--dashboard', 'off']);
    assert.equal(await c.exited, 2);
    assert.match(JSON.stringify(c.logs), /no identity: give --ca-dir DIR/);
    // A busy --dashboard address is named, before anything says it is listening.
    const busy = spawnWeft(['controller', '--repo', repo, '--store', path.join(dir, 's-busy'), '--listen', '127.0.0.1:0', '--insecure', '--dashboard', new URL(ctl.dashboardUrl!).host]);
    assert.equal(await busy.exited, 2);
    assert.match(JSON.stringify(busy.logs), /--dashboard 127\.0\.0\.1:\d+: .*--dashboard off/);
    assert.equal(busy.logs.some((l) => l.msg === 'listening'), false);
  });

  it('serves TLS as spiffe://<td>/ns/weft-system/sa/weft-controller and refuses unauthenticated proxy routes', async () => {
    const anon = client();
    assert.equal((await call(anon, `${ctl.url}/healthz`)).status, 200);
    const bundle = await call(anon, `${ctl.url}/v1/bundle?service=web&proxy=p1`);
    assert.deepEqual([bundle.status, codeOf(bundle)], [401, 'WEFT_ID_CERT_MISSING']);
    const status = await call(anon, `${ctl.url}/v1/status`, { method: 'POST', body: { proxy: 'p1', service: 'web', digest: null, state: 'rejected', error: 'forged' } });
    assert.deepEqual([status.status, codeOf(status)], [401, 'WEFT_ID_CERT_MISSING']);
    // The main listener serves no status document and no metrics: those are the dashboard's.
    assert.equal((await call(anon, `${ctl.url}/v1/status`)).status, 405);
    // A client expecting another identity for the controller refuses the connection.
    const wrong = controllerDispatcher(createSecureContext({ ca: ca.certPem }), 'other.domain');
    agents.push(wrong);
    await assert.rejects(call(wrong, `${ctl.url}/healthz`), /expected spiffe:\/\/other\.domain/);
  });

  it('bootstraps with a join token (the identity is the token\'s, never the CSR\'s), once, across restarts', async () => {
    const t = await token('web');
    const { key, csrPem } = await createCsr('admin');
    const ok = await call(client(), `${ctl.url}/v1/certificates`, { method: 'POST', body: { csr: csrPem, tokenType: 'join_token', token: t } });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.spiffeId, `spiffe://${TD}/ns/default/sa/web`);
    const leaf = verifyLeaf(loadTrustBundle(String(ok.body.trustBundle)), String(ok.body.certificate));
    assert.equal(leaf.id.uri, `spiffe://${TD}/ns/default/sa/web`);
    assert.ok(Math.abs(leaf.notAfter.getTime() - Date.now() - 3600_000) < 120_000, '--cert-ttl 1h');
    const again = await call(client(), `${ctl.url}/v1/certificates`, { method: 'POST', body: { csr: (await createCsr()).csrPem, token: t } });
    assert.deepEqual([again.status, codeOf(again)], [401, 'WEFT_ID_TOKEN_USED']);
    // A spent or forged token is refused before its CSR is read: anonymous requests cost no CSR parsing.
    const spentGarbage = await call(client(), `${ctl.url}/v1/certificates`, { method: 'POST', body: { csr: 'garbage', token: t } });
    assert.deepEqual([spentGarbage.status, codeOf(spentGarbage)], [401, 'WEFT_ID_TOKEN_USED']);
    const junkGarbage = await call(client(), `${ctl.url}/v1/certificates`, { method: 'POST', body: { csr: 'garbage', token: 'wjt1.e30.AAAA' } });
    assert.deepEqual([junkGarbage.status, codeOf(junkGarbage)], [401, 'WEFT_ID_TOKEN']);
    // A malformed CSR does not spend a use.
    const t2 = await token('web');
    const bad = await call(client(), `${ctl.url}/v1/certificates`, { method: 'POST', body: { csr: 'garbage', token: t2 } });
    assert.deepEqual([bad.status, codeOf(bad)], [400, 'WEFT_ID_CSR']);
    assert.equal((await call(client(), `${ctl.url}/v1/certificates`, { method: 'POST', body: { csr: (await createCsr()).csrPem, token: t2 } })).status, 200);
    // A forged token (signed by another CA) gets nothing.
    const forged = (await import('../../runtime/identity/join-token.js')).createJoinToken(await otherCa(TD), (await import('../../runtime/identity/spiffe-id.js')).workloadId(TD, 'default', 'web'));
    assert.equal(codeOf(await call(client(), `${ctl.url}/v1/certificates`, { method: 'POST', body: { csr: (await createCsr()).csrPem, token: forged.token } })), 'WEFT_ID_TOKEN');
    // The used token stays used after a restart (the ledger is in the store).
    await ctl.kill('SIGTERM');
    ctl = await start();
    const afterRestart = await call(client(), `${ctl.url}/v1/certificates`, { method: 'POST', body: { csr: (await createCsr()).csrPem, token: t } });
    assert.deepEqual([afterRestart.status, codeOf(afterRestart)], [401, 'WEFT_ID_TOKEN_USED']);
    assert.match(await readFile(path.join(store, 'join-tokens.json'), 'utf8'), /"used":1/);
    assert.ok(key.privateKeyPem.includes('PRIVATE KEY'), 'the key never left the client');
  });

  it('never grants the controller\'s own identity to a workload (token, bootstrap or renewal)', async () => {
    // Proxies accept the control channel's server by this identity alone: whoever held it could serve them bundles.
    const controllerUri = `spiffe://${TD}/ns/weft-system/sa/weft-controller`;
    const t = spawnWeft(['token', 'create', '--ca-dir', caDir, '--service', 'weft-controller', '--namespace', 'weft-system']);
    assert.equal(await t.exited, 2);
    assert.equal(t.stdout.join(''), '', 'no token printed');
    assert.equal(t.logs.length, 1, JSON.stringify(t.logs));
    assert.match(String(t.logs[0]!.raw), /^weft: WEFT_ID_SPIFFE_ID: .*controller's own identity/);
    // A token for it signed with the CA key by hand (as another tool could) is refused, and no use is counted.
    const payload = Buffer.from(JSON.stringify({ v: 1, jti: 'c'.repeat(32), sub: controllerUri, iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 600, uses: 1 })).toString('base64url');
    const forged = `wjt1.${payload}.${sign('sha256', Buffer.from(`wjt1.${payload}`), { key: ca.key.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
    const boot = await call(client(), `${ctl.url}/v1/certificates`, { method: 'POST', body: { csr: (await createCsr()).csrPem, token: forged } });
    assert.deepEqual([boot.status, codeOf(boot)], [401, 'WEFT_ID_TOKEN'], JSON.stringify(boot.body));
    assert.doesNotMatch(await readFile(path.join(store, 'join-tokens.json'), 'utf8').catch(() => ''), /c{32}/);
    // Renewal with a certificate naming it (made with the CA key directly) is refused too.
    const held = await workload(ca, 'weft-controller', { namespace: 'weft-system' });
    const renew = await call(client(held), `${ctl.url}/v1/certificates`, { method: 'POST', body: { csr: (await createCsr()).csrPem } });
    assert.deepEqual([renew.status, codeOf(renew)], [403, 'WEFT_ID_CERT_SAN'], JSON.stringify(renew.body));
  });

  it('a proxy with its certificate fetches its bundle, reports for itself only, and renews', async () => {
    const web = await workload(ca, 'web');
    const d = client(web);
    const b = await request(`${ctl.url}/v1/bundle?service=web&proxy=web-1`, { dispatcher: d });
    assert.equal(b.statusCode, 200);
    const digest = String(b.headers.etag).replace(/"/g, '');
    await b.body.dump();
    const mine = await call(d, `${ctl.url}/v1/status`, { method: 'POST', body: { proxy: 'web-1', service: 'web', digest, state: 'active', error: null } });
    assert.equal(mine.status, 204);
    const other = await call(d, `${ctl.url}/v1/status`, { method: 'POST', body: { proxy: 'reviews-1', service: 'reviews', digest: null, state: 'rejected', error: 'forged' } });
    assert.deepEqual([other.status, codeOf(other)], [403, 'WEFT_CTL_FORBIDDEN']);
    const otherBundle = await call(d, `${ctl.url}/v1/bundle?service=reviews&proxy=web-1`);
    assert.deepEqual([otherBundle.status, codeOf(otherBundle)], [403, 'WEFT_CTL_FORBIDDEN']);
    // The dashboard listener (plain HTTP, read-only) shows the row with its identity and expiry.
    const doc = (await (await request(`${ctl.dashboardUrl}/v1/status`)).body.json()) as { security: { mode: string }; proxies: { proxy: string; identity: string; certNotAfter: string; state: string }[] };
    assert.equal(doc.security.mode, 'mtls');
    const row = doc.proxies.find((p) => p.proxy === 'web-1');
    assert.equal(row?.identity, `spiffe://${TD}/ns/default/sa/web`);
    assert.equal(row?.state, 'active');
    assert.ok(row?.certNotAfter);
    assert.equal(doc.proxies.some((p) => p.proxy === 'reviews-1'), false);
    assert.equal((await request(`${ctl.dashboardUrl}/v1/status`, { method: 'POST', body: '{}' })).statusCode, 405);
    assert.equal((await request(`${ctl.dashboardUrl}/metrics`)).statusCode, 200);
    const st = spawnWeft(['status', '--controller', ctl.dashboardUrl!]);
    await st.exited;
    assert.match(st.stdout.join(''), /mTLS, trust domain weft\.local/);
    // Renewal: no token, the current certificate says who; a new key, the same identity.
    const renewed = await call(d, `${ctl.url}/v1/certificates`, { method: 'POST', body: { csr: (await createCsr('reviews')).csrPem } });
    assert.equal(renewed.status, 200, JSON.stringify(renewed.body));
    assert.equal(renewed.body.spiffeId, `spiffe://${TD}/ns/default/sa/web`);
    const noCert = await call(client(), `${ctl.url}/v1/certificates`, { method: 'POST', body: { csr: (await createCsr()).csrPem } });
    assert.deepEqual([noCert.status, codeOf(noCert)], [401, 'WEFT_ID_CERT_MISSING']);
  });

  it('weft ca init --out-dir naming a file is one line that says so, exit 2', async () => {
    const file = path.join(dir, 'a-file');
    await writeFile(file, 'x');
    for (const [out, why] of [[file, /is a file, not a folder$/], [path.join(file, 'ca'), /is under a file, not a folder$/]] as const) {
      const init = spawnWeft(['ca', 'init', '--out-dir', out]);
      assert.equal(await init.exited, 2);
      assert.equal(init.logs.length, 1, JSON.stringify(init.logs));
      assert.match(String(init.logs[0]!.raw), new RegExp(`^weft: --out-dir ${out.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: `));
      assert.match(String(init.logs[0]!.raw), why);
    }
  });

  it('weft status pointed at the mTLS listener says which listener it reads, in one line', async () => {
    for (const [url, why] of [[ctl.url, /mTLS listener, which serves proxies only/], [ctl.url.replace('https://', 'http://'), /closed the connection without answering/]] as const) {
      const st = spawnWeft(['status', '--controller', url, '--timeout', '10s']);
      assert.equal(await st.exited, 2, url);
      assert.equal(st.logs.length, 1, JSON.stringify(st.logs));
      assert.match(String(st.logs[0]!.raw), why);
      assert.match(String(st.logs[0]!.raw), /reads the controller's --dashboard listener/);
    }
  });

  it('refuses certificates from another CA, expired, with two URI SANs, or of another trust domain', async () => {
    const cases: [string, Workload, string][] = [
      ['another CA', await workload(await otherCa(TD), 'web'), 'WEFT_ID_CERT_CHAIN'],
      ['expired', await workload(ca, 'web', { ttlMs: 60_000, now: new Date(Date.now() - 3600_000) }), 'WEFT_ID_CERT_EXPIRED'],
      ['two URI SANs', await rogueLeaf(ca, [`spiffe://${TD}/ns/default/sa/web`, `spiffe://${TD}/ns/default/sa/reviews`]), 'WEFT_ID_CERT_SAN'],
      ['another trust domain', await rogueLeaf(ca, ['spiffe://evil.example/ns/default/sa/web']), 'WEFT_ID_CERT_SAN'],
    ];
    for (const [what, w, code] of cases) {
      const d = client(w);
      const b = await call(d, `${ctl.url}/v1/bundle?service=web&proxy=rogue`);
      assert.deepEqual([b.status, codeOf(b)], [403, code], what);
      const s = await call(d, `${ctl.url}/v1/status`, { method: 'POST', body: { proxy: 'rogue', service: 'web', digest: null, state: 'rejected', error: 'x' } });
      assert.deepEqual([s.status, codeOf(s)], [403, code], what);
      const r = await call(d, `${ctl.url}/v1/certificates`, { method: 'POST', body: { csr: (await createCsr()).csrPem } });
      assert.deepEqual([r.status, codeOf(r)], [403, code], `${what}: renewal`);
    }
  });

  it('the controller source fetches and reports over mTLS with a TlsClientIdentity', async () => {
    const reviews = await workload(ca, 'reviews');
    const source = new ControllerSource({ url: ctl.url, service: 'reviews', proxyId: 'reviews-src', waitSeconds: 1, tls: { identity: new StaticTlsClientIdentity({ key: reviews.keyPem, cert: reviews.certPem, ca: ca.certPem }), trustDomain: TD } });
    const offers: string[] = [];
    await source.start({ offer: async (text): Promise<LoadVerdict> => (offers.push(text), { state: 'active', digest: (JSON.parse(text) as { digest: string }).digest }) });
    try {
      assert.equal(offers.length, 1);
      await waitFor(async () => {
        const doc = (await (await request(`${ctl.dashboardUrl}/v1/status`)).body.json()) as { proxies: { proxy: string; state: string; identity: string }[] };
        return doc.proxies.find((p) => p.proxy === 'reviews-src' && p.state === 'active' && p.identity.endsWith('/sa/reviews'));
      }, 10_000, 'the source\'s report');
    } finally {
      await source.stop();
    }
  });

  it('the webhook refuses an unsigned request before reading its body and ignores a replayed delivery', async () => {
    // The body starts and then stalls for a minute: the answer must come without it.
    const anon = client();
    const stalled = new PassThrough();
    stalled.write('{"ref":');
    const unsigned = await request(`${ctl.url}/v1/hooks/git`, {
      method: 'POST',
      dispatcher: anon,
      headers: { 'content-type': 'application/json', 'x-github-event': 'push' },
      body: stalled,
    });
    assert.equal(unsigned.statusCode, 401);
    assert.equal(((await unsigned.body.json()) as { error: { code: string } }).error.code, 'WEFT_CTL_WEBHOOK_SIGNATURE');
    stalled.destroy();
    const body = JSON.stringify({ ref: 'refs/heads/main', after: 'a'.repeat(40) });
    const send = (delivery: string): Promise<Answer> =>
      request(`${ctl.url}/v1/hooks/git`, {
        method: 'POST',
        dispatcher: anon,
        headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': delivery, 'x-hub-signature-256': hubSignature('hook-secret', body) },
        body,
      }).then(async (r) => ({ status: r.statusCode, body: (await r.body.json()) as Record<string, unknown> }));
    const first = await send('d-1');
    assert.equal(first.status, 202);
    const replay = await send('d-1');
    assert.deepEqual([replay.status, replay.body.accepted], [200, false]);
    const replayNewId = await send('d-2');
    assert.deepEqual([replayNewId.status, replayNewId.body.accepted], [200, false]);
  });
});
