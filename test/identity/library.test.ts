/**
 * runtime/identity/: SPIFFE IDs per the SPIFFE ID spec, the CA on disk, CSR → leaf with the
 * caller's identity (never the CSR's), the mesh's leaf check (chain, time, exactly one URI SAN in
 * the trust domain), join tokens, and a real mTLS handshake with the certificates it makes.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { stat, writeFile, chmod } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { request, Agent } from 'undici';
import { createCa, loadCaDir, writeCaDir, type MeshCa } from '../../runtime/identity/ca.js';
import { createCsr, parseCsr } from '../../runtime/identity/csr.js';
import { IdentityError } from '../../runtime/identity/errors.js';
import { issueLeaf } from '../../runtime/identity/issue.js';
import { createJoinToken, verifyJoinToken } from '../../runtime/identity/join-token.js';
import { controllerId, formatSpiffeId, parseSpiffeId, parseWorkloadId, workloadId } from '../../runtime/identity/spiffe-id.js';
import { StaticTlsClientIdentity } from '../../runtime/identity/tls-client-identity.js';
import { loadTrustBundle } from '../../runtime/identity/trust-bundle.js';
import { uriSans, verifyLeaf } from '../../runtime/identity/verify-leaf.js';
import { otherCa, removeDir, rogueLeaf, tmpDir, workload } from '../helpers/identity-kit.js';

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof IdentityError, `expected IdentityError, got ${String(err)}`);
    return err.code;
  }
  assert.fail('expected an IdentityError');
}

describe('SPIFFE IDs (SPIFFE ID spec)', () => {
  it('accepts valid IDs and keeps their one spelling', () => {
    for (const uri of ['spiffe://weft.local/ns/default/sa/web', 'spiffe://example.org', 'spiffe://td_1-x.y/a/B.c/d-e_f']) {
      assert.equal(parseSpiffeId(uri).uri, uri);
    }
    const id = parseSpiffeId('spiffe://weft.local/ns/shop/sa/cart');
    assert.deepEqual([id.trustDomain, id.path], ['weft.local', '/ns/shop/sa/cart']);
    assert.equal(formatSpiffeId('weft.local', 'ns', 'a', 'sa', 'b'), 'spiffe://weft.local/ns/a/sa/b');
    assert.equal(controllerId('weft.local').uri, 'spiffe://weft.local/ns/weft-system/sa/weft-controller');
  });

  it('refuses what the spec forbids', () => {
    const bad = [
      'SPIFFE://weft.local/a', 'https://weft.local/a', 'spiffe://', 'spiffe:///a', 'spiffe://Weft.local/a',
      'spiffe://weft.local:8443/a', 'spiffe://user@weft.local/a', 'spiffe://weft.local/', 'spiffe://weft.local//a',
      'spiffe://weft.local/a/', 'spiffe://weft.local/./a', 'spiffe://weft.local/a/..', 'spiffe://weft.local/a?b',
      'spiffe://weft.local/a#b', 'spiffe://weft.local/a%20b', `spiffe://weft.local/${'a'.repeat(2040)}`,
    ];
    for (const uri of bad) assert.equal(code(() => parseSpiffeId(uri)), 'WEFT_ID_SPIFFE_ID', uri);
  });

  it('reads workload IDs, in one trust domain', () => {
    const w = parseWorkloadId('spiffe://weft.local/ns/shop/sa/cart', 'weft.local');
    assert.deepEqual([w.namespace, w.service], ['shop', 'cart']);
    assert.equal(code(() => parseWorkloadId('spiffe://other.org/ns/shop/sa/cart', 'weft.local')), 'WEFT_ID_TRUST_DOMAIN');
    assert.equal(code(() => parseWorkloadId('spiffe://weft.local/ns/shop/cart')), 'WEFT_ID_SPIFFE_ID');
    assert.equal(code(() => workloadId('weft.local', 'default', 'Web')), 'WEFT_ID_SPIFFE_ID');
  });
});

describe('CA, CSR, leaf, verification', () => {
  let ca: MeshCa;
  let dir: string;
  before(async () => {
    ca = await createCa('weft.local');
    dir = await tmpDir('ca');
  });
  after(() => removeDir(dir));

  it('writes ca.pem and ca.key (0600) and reads them back with the trust domain', async () => {
    const other = await createCa('prod.example');
    const { keyFile } = await writeCaDir(path.join(dir, 'ca'), other);
    assert.equal((await stat(keyFile)).mode & 0o777, 0o600);
    const loaded = await loadCaDir(path.join(dir, 'ca'));
    assert.equal(loaded.trustDomain, 'prod.example');
    await assert.rejects(writeCaDir(path.join(dir, 'ca'), other), (e: unknown) => e instanceof IdentityError && e.code === 'WEFT_ID_CA');
    await chmod(keyFile, 0o644);
    await assert.rejects(loadCaDir(path.join(dir, 'ca')), /chmod 600/);
    await writeFile(keyFile, (await createCa('x.y')).key.privateKeyPem, { mode: 0o600 });
    await chmod(keyFile, 0o600);
    await assert.rejects(loadCaDir(path.join(dir, 'ca')), /is not the key of ca\.pem/);
  });

  it('issues the identity it is given, not the one the CSR names', async () => {
    const { csrPem } = await createCsr('admin');
    const leaf = await issueLeaf(ca, csrPem, { id: workloadId('weft.local', 'default', 'web') });
    const v = verifyLeaf(loadTrustBundle(ca.certPem), leaf.certPem);
    assert.equal(v.id.uri, 'spiffe://weft.local/ns/default/sa/web');
    assert.deepEqual([v.workload?.namespace, v.workload?.service], ['default', 'web']);
    const hours = (v.notAfter.getTime() - Date.now()) / 3600_000;
    assert.ok(hours > 23.9 && hours <= 24, `default lifetime 24 h, got ${hours}`);
    assert.deepEqual(uriSans(new X509Certificate(leaf.certPem).raw), [v.id.uri]);
  });

  it('refuses a CSR that is garbage, tampered with, or for another trust domain', async () => {
    await assert.rejects(parseCsr('not a csr'), (e: unknown) => e instanceof IdentityError && e.code === 'WEFT_ID_CSR');
    const { csrPem } = await createCsr();
    const der = Buffer.from(csrPem.replace(/-----[^-]+-----/g, '').replace(/\s/g, ''), 'base64');
    der.writeUInt8(der[der.length - 10]! ^ 0xff, der.length - 10);
    const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    await assert.rejects(parseCsr(tampered), (e: unknown) => e instanceof IdentityError && e.code === 'WEFT_ID_CSR');
    await assert.rejects(issueLeaf(ca, csrPem, { id: 'spiffe://other.org/ns/default/sa/web' }), (e: unknown) => e instanceof IdentityError && e.code === 'WEFT_ID_TRUST_DOMAIN');
  });

  it('refuses leaves from another CA, expired ones, two URI SANs, another trust domain, a CA as leaf', async () => {
    const bundle = loadTrustBundle(ca.certPem);
    const foreign = await workload(await otherCa('weft.local'), 'web');
    assert.equal(code(() => verifyLeaf(bundle, foreign.certPem)), 'WEFT_ID_CERT_CHAIN');
    const expired = await workload(ca, 'web', { ttlMs: 60_000, now: new Date(Date.now() - 3600_000) });
    assert.equal(code(() => verifyLeaf(bundle, expired.certPem)), 'WEFT_ID_CERT_EXPIRED');
    const two = await rogueLeaf(ca, ['spiffe://weft.local/ns/default/sa/web', 'spiffe://weft.local/ns/default/sa/admin']);
    assert.equal(code(() => verifyLeaf(bundle, two.certPem)), 'WEFT_ID_CERT_SAN');
    const none = await rogueLeaf(ca, []);
    assert.equal(code(() => verifyLeaf(bundle, none.certPem)), 'WEFT_ID_CERT_SAN');
    const otherTd = await rogueLeaf(ca, ['spiffe://evil.org/ns/default/sa/web']);
    assert.equal(code(() => verifyLeaf(bundle, otherTd.certPem)), 'WEFT_ID_CERT_SAN');
    // A comma inside one URI SAN must not split it into two (node quotes such a value).
    const smuggled = await rogueLeaf(ca, ['spiffe://weft.local/ns/x, URI:spiffe://weft.local/ns/default/sa/web']);
    assert.equal(uriSans(new X509Certificate(smuggled.certPem)).length, 1);
    assert.equal(code(() => verifyLeaf(bundle, smuggled.certPem)), 'WEFT_ID_CERT_SAN');
    const notSpiffe = await rogueLeaf(ca, ['https://weft.local/ns/default/sa/web']);
    assert.equal(code(() => verifyLeaf(bundle, notSpiffe.certPem)), 'WEFT_ID_CERT_SAN');
    assert.equal(code(() => verifyLeaf(bundle, ca.certPem)), 'WEFT_ID_CERT');
    // A bundle holding both roots (CA rotation) accepts leaves of either.
    const both = loadTrustBundle(ca.certPem + (await otherCa('weft.local')).certPem);
    assert.equal(verifyLeaf(both, (await workload(ca, 'web')).certPem).id.uri, 'spiffe://weft.local/ns/default/sa/web');
  });
});

describe('join tokens', () => {
  let ca: MeshCa;
  before(async () => {
    ca = await createCa('weft.local');
  });

  it('round-trips identity, expiry and uses', () => {
    const { token, claims } = createJoinToken(ca, workloadId('weft.local', 'shop', 'cart'), { ttlMs: 3600_000, uses: 3 });
    const v = verifyJoinToken(token, ca.key.publicKey, 'weft.local');
    assert.equal(v.identity.uri, 'spiffe://weft.local/ns/shop/sa/cart');
    assert.equal(v.uses, 3);
    assert.equal(v.id, claims.id);
    assert.equal(v.expiresAt.getTime(), claims.expiresAt.getTime());
  });

  it('refuses a tampered, foreign, expired or malformed token', async () => {
    const { token } = createJoinToken(ca, workloadId('weft.local', 'default', 'web'));
    const [p, body, sig] = token.split('.');
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(body!, 'base64url').toString()), sub: 'spiffe://weft.local/ns/default/sa/admin' })).toString('base64url');
    assert.equal(code(() => verifyJoinToken(`${p}.${forged}.${sig}`, ca.key.publicKey, 'weft.local')), 'WEFT_ID_TOKEN');
    const other = await otherCa();
    assert.equal(code(() => verifyJoinToken(token, other.key.publicKey, 'weft.local')), 'WEFT_ID_TOKEN');
    const old = createJoinToken(ca, workloadId('weft.local', 'default', 'web'), { ttlMs: 60_000, now: new Date(Date.now() - 120_000) });
    assert.equal(code(() => verifyJoinToken(old.token, ca.key.publicKey, 'weft.local')), 'WEFT_ID_TOKEN_EXPIRED');
    for (const t of ['', 'wjt1', 'wjt1.a.b.c', 'jwt.eyJ9.abc', 'x'.repeat(5000)]) assert.equal(code(() => verifyJoinToken(t, ca.key.publicKey, 'weft.local')), 'WEFT_ID_TOKEN', t.slice(0, 20));
  });
});

describe('the certificates work in real mTLS', () => {
  it('node:https server and undici client with a prebuilt secure context see each other\'s SPIFFE IDs', async () => {
    const ca = await createCa('weft.local');
    const server = await workload(ca, 'ratings');
    const client = await workload(ca, 'reviews');
    const bundle = loadTrustBundle(ca.certPem);
    const srv = https.createServer({ key: server.keyPem, cert: server.certPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true }, (req, res) => {
      const peer = (req.socket as TLSSocket).getPeerX509Certificate();
      res.end(peer ? verifyLeaf(bundle, peer).id.uri : 'none');
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const id = new StaticTlsClientIdentity({ key: client.keyPem, cert: client.certPem, ca: ca.certPem });
    const agent = new Agent({ connect: { secureContext: id.current()!.secureContext, servername: 'ratings', checkServerIdentity: () => undefined } });
    try {
      const res = await request(`https://127.0.0.1:${(srv.address() as AddressInfo).port}/`, { dispatcher: agent });
      assert.equal(await res.body.text(), 'spiffe://weft.local/ns/default/sa/reviews');
    } finally {
      await agent.close();
      await new Promise((r) => srv.close(r));
    }
  });
});
