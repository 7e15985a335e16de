import { X509Certificate, type webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import { randomSerial, type MeshCa } from './ca.js';
import { parseCsr } from './csr.js';
import { IdentityError } from './errors.js';
import { ECDSA_SHA256 } from './keys.js';
import { parseSpiffeId, type SpiffeId } from './spiffe-id.js';
import type * as x509 from '@peculiar/x509';
import { x509 as x509lib } from './x509.js';

/**
 * Leaf issuance: an X.509-SVID (SPIFFE X509-SVID spec) for a key the caller proved it holds. The
 * identity is an argument, decided by the caller from a join token or a current certificate;
 * nothing the CSR claims (subject, extensions) is copied. The leaf has exactly one URI SAN (the
 * SPIFFE ID), optional DNS/IP SANs (the controller's serving names), is not a CA, may sign
 * (digitalSignature) and serves both ends of TLS (serverAuth, clientAuth).
 */

/** DEFAULT_LEAF_TTL_MS is 24 hours: short enough that a stolen key is useful for a day at most. */
export const DEFAULT_LEAF_TTL_MS = 24 * 3600_000;
/** BACKDATE_MS: notBefore is set this far back, so a peer whose clock is a little behind accepts a new leaf. */
export const BACKDATE_MS = 30_000;

/** LeafRequest is what the issuer decided: who, for how long, under which names. */
export interface LeafRequest {
  /** The SPIFFE ID (its trust domain must be the CA's). */
  readonly id: SpiffeId | string;
  /** Lifetime in ms (default 24 h); cut to the CA's own expiry. */
  readonly ttlMs?: number;
  /** DNS names the holder serves under (the controller); proxies have none. */
  readonly dnsNames?: readonly string[];
  /** IP addresses the holder serves on (the controller). */
  readonly ipAddresses?: readonly string[];
  /** Issue time (tests make expired leaves with it); default now. */
  readonly now?: Date;
}

/** IssuedLeaf is a new certificate, PEM, with its validity and serial for logs and /v1/status. */
export interface IssuedLeaf {
  readonly certPem: string;
  readonly id: SpiffeId;
  readonly serialNumber: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

// The CA certificate parsed once per CA (parsing costs about 2 ms of CPU; issuing, 8).
const parsedCa = new WeakMap<MeshCa, x509.X509Certificate>();
function caCertOf(ca: MeshCa): x509.X509Certificate {
  let c = parsedCa.get(ca);
  if (!c) {
    c = new (x509lib().X509Certificate)(ca.certPem);
    parsedCa.set(ca, c);
  }
  return c;
}

/**
 * issueLeaf signs a leaf for the key in `csrPem` (checked: PEM, ECDSA P-256, self-signature)
 * with the identity in `req`. Throws IdentityError WEFT_ID_CSR for a bad CSR and
 * WEFT_ID_TRUST_DOMAIN for an identity outside the CA's trust domain.
 */
export async function issueLeaf(ca: MeshCa, csrPem: string, req: LeafRequest): Promise<IssuedLeaf> {
  const publicKey = await parseCsr(csrPem);
  return issueLeafForKey(ca, publicKey, req);
}

/** issueLeafForKey is issueLeaf for a public key already checked (the controller's own SVID). */
export async function issueLeafForKey(ca: MeshCa, publicKey: x509.PublicKey | webcrypto.CryptoKey, req: LeafRequest): Promise<IssuedLeaf> {
  const id = typeof req.id === 'string' ? parseSpiffeId(req.id) : req.id;
  if (id.trustDomain !== ca.trustDomain) throw new IdentityError('WEFT_ID_TRUST_DOMAIN', `${id.uri} is not in the CA's trust domain ${ca.trustDomain}`, 400);
  const now = req.now ?? new Date();
  const ttl = req.ttlMs ?? DEFAULT_LEAF_TTL_MS;
  if (!(ttl > 0)) throw new IdentityError('WEFT_ID_CSR', `certificate lifetime must be positive, got ${ttl} ms`, 400);
  const caNotAfter = new Date(ca.cert.validTo);
  const notBefore = new Date(now.getTime() - BACKDATE_MS);
  const notAfter = new Date(Math.min(now.getTime() + ttl, caNotAfter.getTime()));
  const names: { type: 'url' | 'dns' | 'ip'; value: string }[] = [{ type: 'url', value: id.uri }];
  for (const d of req.dnsNames ?? []) names.push({ type: 'dns', value: d });
  for (const ip of req.ipAddresses ?? []) {
    if (isIP(ip) === 0) throw new IdentityError('WEFT_ID_CSR', `"${ip}" is not an IP address`, 400);
    names.push({ type: 'ip', value: ip });
  }
  const serialNumber = randomSerial();
  const caX509 = caCertOf(ca);
  const lib = x509lib();
  const cert = await lib.X509CertificateGenerator.create({
    serialNumber,
    subject: `O=Weft, CN=${id.path.split('/').pop() || id.trustDomain}`,
    issuer: caX509.subjectName,
    notBefore,
    notAfter,
    publicKey,
    signingKey: ca.key.cryptoKeys.privateKey,
    signingAlgorithm: ECDSA_SHA256,
    extensions: [
      new lib.BasicConstraintsExtension(false, undefined, true),
      new lib.KeyUsagesExtension(lib.KeyUsageFlags.digitalSignature | lib.KeyUsageFlags.keyAgreement, true),
      new lib.ExtendedKeyUsageExtension([lib.ExtendedKeyUsage.serverAuth, lib.ExtendedKeyUsage.clientAuth]),
      new lib.SubjectAlternativeNameExtension(names, false),
      await lib.AuthorityKeyIdentifierExtension.create(ca.key.cryptoKeys.publicKey),
      await lib.SubjectKeyIdentifierExtension.create(publicKey),
    ],
  });
  const certPem = cert.toString('pem') + '\n';
  const node = new X509Certificate(certPem);
  return Object.freeze({ certPem, id, serialNumber: node.serialNumber, notBefore: new Date(node.validFrom), notAfter: new Date(node.validTo) });
}
