import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { IdentityError } from '../../identity/errors.js';
import { loadTrustBundle, type TrustBundle } from '../../identity/trust-bundle.js';
import { verifyLeaf, type VerifiedLeaf } from '../../identity/verify-leaf.js';

/**
 * WorkloadCertificate is the proxy's X.509-SVID as the TLS layer uses it: its private key, its
 * certificate chain (leaf first), the trust bundle it checks peers against, and what the leaf was
 * verified to say (identity, validity). Immutable; a rotation produces a new one.
 */
export interface WorkloadCertificate {
  readonly keyPem: string;
  /** Leaf first, then any intermediates, PEM. */
  readonly certPem: string;
  readonly trustBundle: TrustBundle;
  /** The leaf checked against `trustBundle` (one SPIFFE URI SAN in its trust domain, valid now). */
  readonly leaf: VerifiedLeaf;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * checkWorkloadCertificate builds a WorkloadCertificate from PEM texts: the key must be the leaf's
 * key, the leaf must pass the mesh's leaf verification against the trust bundle (chain, validity,
 * exactly one SPIFFE URI SAN in the trust domain) and, when `expect` is given, name that identity.
 * Any key type node:tls accepts will do (SPIRE and cert-manager may issue RSA or P-384). Throws
 * IdentityError (WEFT_ID_CERT, WEFT_ID_CERT_CHAIN, WEFT_ID_CERT_EXPIRED, WEFT_ID_CERT_SAN, WEFT_ID_CA).
 */
export function checkWorkloadCertificate(pem: { key: string; cert: string; ca: string }, opts: { trustDomain?: string; expect?: string; now?: Date } = {}): WorkloadCertificate {
  const trustBundle = loadTrustBundle(pem.ca, opts.trustDomain);
  const blocks = pem.cert.match(PEM_CERT) ?? [];
  if (blocks.length === 0) throw new IdentityError('WEFT_ID_CERT', 'the certificate file holds no PEM certificate');
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem.key, format: 'pem' });
  } catch (err) {
    throw new IdentityError('WEFT_ID_CERT', `the key is not a PEM private key: ${(err as Error).message}`);
  }
  const leafCert = new X509Certificate(blocks[0]!);
  if (!leafCert.checkPrivateKey(key)) throw new IdentityError('WEFT_ID_CERT', 'the private key does not belong to the certificate');
  const leaf = verifyLeaf(trustBundle, leafCert, blocks.slice(1), opts.now);
  if (opts.expect !== undefined && leaf.id.uri !== opts.expect) throw new IdentityError('WEFT_ID_CERT_SAN', `the certificate names ${leaf.id.uri}, not ${opts.expect}`);
  return Object.freeze({ keyPem: pem.key, certPem: blocks.join('\n') + '\n', trustBundle, leaf });
}
