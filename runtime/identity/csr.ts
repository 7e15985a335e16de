import type { webcrypto } from 'node:crypto';
import { IdentityError } from './errors.js';
import { ECDSA_SHA256, generateKeyPair, type KeyPair } from './keys.js';
import type * as x509 from '@peculiar/x509';
import { x509 as x509lib } from './x509.js';

/**
 * Certificate signing requests (PKCS#10). A proxy makes its own key and sends only a CSR: the
 * private key never leaves the proxy. The CSR proves possession of the key (its signature); the
 * identity it may claim is ignored by the issuer, which takes it from the join token or the
 * current certificate instead.
 */

/** NewCsr is a fresh key and a CSR for it, both PEM. */
export interface NewCsr {
  readonly key: KeyPair;
  readonly csrPem: string;
}

/** createCsr makes a new P-256 key and a CSR signed with it; the subject is informational only. */
export async function createCsr(subjectCommonName = 'weft-proxy'): Promise<NewCsr> {
  const key = await generateKeyPair();
  const csr = await x509lib().Pkcs10CertificateRequestGenerator.create({
    name: `CN=${subjectCommonName.replace(/[,=+<>#;"\\]/g, '_')}`,
    keys: key.cryptoKeys,
    signingAlgorithm: ECDSA_SHA256,
  });
  return Object.freeze({ key, csrPem: csr.toString('pem') + '\n' });
}

/** MAX_CSR_BYTES bounds a CSR accepted by the issuer (a P-256 CSR is about 400 bytes of PEM). */
export const MAX_CSR_BYTES = 16 * 1024;

/**
 * parseCsr parses a PEM CSR, checks its self-signature (proof of possession) and that its key is
 * ECDSA P-256. Returns the public key; throws IdentityError WEFT_ID_CSR.
 */
export async function parseCsr(csrPem: string): Promise<x509.PublicKey> {
  if (csrPem.length > MAX_CSR_BYTES) throw new IdentityError('WEFT_ID_CSR', `CSR is larger than ${MAX_CSR_BYTES} bytes`, 400);
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new (x509lib().Pkcs10CertificateRequest)(csrPem);
  } catch (err) {
    throw new IdentityError('WEFT_ID_CSR', `not a PEM certificate request: ${(err as Error).message}`, 400);
  }
  const alg = csr.publicKey.algorithm as webcrypto.EcKeyAlgorithm;
  if (alg.name !== 'ECDSA' || alg.namedCurve !== 'P-256') throw new IdentityError('WEFT_ID_CSR', `the CSR's key is ${alg.name}${alg.namedCurve ? ` ${alg.namedCurve}` : ''}, not ECDSA P-256`, 400);
  let ok = false;
  try {
    ok = await csr.verify();
  } catch {
    ok = false;
  }
  if (!ok) throw new IdentityError('WEFT_ID_CSR', 'the CSR signature does not verify (no proof of possession of its key)', 400);
  return csr.publicKey;
}
