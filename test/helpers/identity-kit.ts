/**
 * Certificates for tests, including the ones the mesh must refuse: a leaf with two URI SANs, one
 * naming another trust domain, an expired one, one from another CA. Rogue certificates are built
 * with @peculiar/x509 directly, since the issuer (rightly) cannot make them.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createCa, randomSerial, type MeshCa } from '../../runtime/identity/ca.js';
import { createCsr } from '../../runtime/identity/csr.js';
import { issueLeaf } from '../../runtime/identity/issue.js';
import { ECDSA_SHA256, generateKeyPair } from '../../runtime/identity/keys.js';
import { workloadId } from '../../runtime/identity/spiffe-id.js';
import { x509 as x509lib } from '../../runtime/identity/x509.js';

const x509 = x509lib();

/** Workload is a key and certificate (PEM) as a proxy would hold them. */
export interface Workload {
  keyPem: string;
  certPem: string;
}

/** workload issues a proper leaf for `service` in `namespace` from `ca`. */
export async function workload(ca: MeshCa, service: string, opts: { namespace?: string; ttlMs?: number; now?: Date } = {}): Promise<Workload> {
  const { key, csrPem } = await createCsr(service);
  const leaf = await issueLeaf(ca, csrPem, {
    id: workloadId(ca.trustDomain, opts.namespace ?? 'default', service),
    ...(opts.ttlMs !== undefined ? { ttlMs: opts.ttlMs } : {}),
    ...(opts.now ? { now: opts.now } : {}),
  });
  return { keyPem: key.privateKeyPem, certPem: leaf.certPem };
}

/** rogueLeaf signs a leaf with arbitrary URI SANs with `ca`'s key (what a buggy or hostile issuer could do). */
export async function rogueLeaf(ca: MeshCa, uris: string[], opts: { notBefore?: Date; notAfter?: Date } = {}): Promise<Workload> {
  const key = await generateKeyPair();
  const caCert = new x509.X509Certificate(ca.certPem);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: 'CN=rogue',
    issuer: caCert.subjectName,
    notBefore: opts.notBefore ?? new Date(now - 60_000),
    notAfter: opts.notAfter ?? new Date(now + 3600_000),
    publicKey: key.cryptoKeys.publicKey,
    signingKey: ca.key.cryptoKeys.privateKey,
    signingAlgorithm: ECDSA_SHA256,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension(uris.map((value) => ({ type: 'url' as const, value }))),
      await x509.AuthorityKeyIdentifierExtension.create(ca.key.cryptoKeys.publicKey),
    ],
  });
  return { keyPem: key.privateKeyPem, certPem: cert.toString('pem') + '\n' };
}

/** otherCa is a second CA (same or another trust domain): its leaves must not pass the first one's bundle. */
export function otherCa(trustDomain = 'weft.local'): Promise<MeshCa> {
  return createCa(trustDomain);
}

/** tmpDir makes a temporary directory; the caller removes it with removeDir. */
export function tmpDir(prefix: string): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), `weft-${prefix}-`));
}

export function removeDir(dir: string): Promise<void> {
  return rm(dir, { recursive: true, force: true });
}
