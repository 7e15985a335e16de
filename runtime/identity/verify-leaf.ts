import { X509Certificate } from 'node:crypto';
import { IdentityError } from './errors.js';
import { parseSpiffeId, parseWorkloadId, type SpiffeId, type WorkloadId } from './spiffe-id.js';
import type { TrustBundle } from './trust-bundle.js';
import { uriSans as uriSansOf } from './x509.js';

/**
 * Leaf verification for the mesh. OpenSSL (node:tls) checks the chain, but it accepts a leaf
 * with two URI SANs, and knows nothing of trust domains; this is the mesh's own check, run on
 * every peer certificate that establishes an identity:
 * 1. the leaf is not a CA and chains to a root of the trust bundle (through the intermediates
 *    given, at most MAX_CHAIN_DEPTH of them), every signature verified;
 * 2. every certificate on the path is valid at `now`;
 * 3. the leaf has exactly one URI SAN, and it is a SPIFFE ID in the bundle's trust domain.
 */

/** MAX_CHAIN_DEPTH bounds the intermediates followed between a leaf and a root. */
export const MAX_CHAIN_DEPTH = 4;

/** VerifiedLeaf is a certificate that passed: its identity (and workload form, when it has one). */
export interface VerifiedLeaf {
  readonly id: SpiffeId;
  /** The `/ns/<namespace>/sa/<service>` reading of `id`, or null for other paths (SPIRE may issue them). */
  readonly workload: WorkloadId | null;
  readonly serialNumber: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** SHA-256 fingerprint, `AB:CD:...` (node's X509Certificate.fingerprint256). */
  readonly fingerprint256: string;
}

type CertInput = X509Certificate | Buffer | string;

function toCert(c: CertInput): X509Certificate {
  if (c instanceof X509Certificate) return c;
  try {
    return new X509Certificate(c);
  } catch (err) {
    throw new IdentityError('WEFT_ID_CERT', `the certificate cannot be parsed: ${(err as Error).message}`);
  }
}

function checkTime(c: X509Certificate, now: Date, what: string): void {
  const from = Date.parse(c.validFrom);
  const to = Date.parse(c.validTo);
  const t = now.getTime();
  if (t < from) throw new IdentityError('WEFT_ID_CERT_EXPIRED', `${what} is not valid before ${new Date(from).toISOString()}`);
  if (t > to) throw new IdentityError('WEFT_ID_CERT_EXPIRED', `${what} expired at ${new Date(to).toISOString()}`);
}

function issuedBy(child: X509Certificate, parent: X509Certificate): boolean {
  try {
    return child.checkIssued(parent) && child.verify(parent.publicKey);
  } catch {
    return false;
  }
}

/** uriSans is every URI SAN of a certificate (runtime/identity/x509.ts); throws IdentityError WEFT_ID_CERT when it cannot be read. */
export function uriSans(cert: Buffer | X509Certificate): string[] {
  return uriSansOf(toCert(cert));
}

/**
 * verifyLeaf runs the checks above and returns the leaf's identity; throws IdentityError with
 * WEFT_ID_CERT, WEFT_ID_CERT_CHAIN, WEFT_ID_CERT_EXPIRED or WEFT_ID_CERT_SAN.
 */
export function verifyLeaf(bundle: TrustBundle, leafInput: CertInput, intermediates: readonly CertInput[] = [], now = new Date()): VerifiedLeaf {
  const leaf = toCert(leafInput);
  if (leaf.ca) throw new IdentityError('WEFT_ID_CERT', 'a CA certificate cannot be used as a workload certificate');
  const pool = intermediates.map(toCert).filter((c) => c.ca);
  let cur = leaf;
  let anchored = false;
  for (let depth = 0; depth <= MAX_CHAIN_DEPTH && !anchored; depth++) {
    checkTime(cur, now, depth === 0 ? 'the certificate' : `intermediate CA ${cur.subject.replace(/\n/g, ', ')}`);
    const root = bundle.roots.find((r) => issuedBy(cur, r));
    if (root) {
      checkTime(root, now, 'the root CA');
      anchored = true;
      break;
    }
    const next = pool.find((p) => p !== cur && issuedBy(cur, p));
    if (!next) break;
    cur = next;
  }
  if (!anchored) throw new IdentityError('WEFT_ID_CERT_CHAIN', `the certificate was not issued by the trust bundle of ${bundle.trustDomain}`);
  const uris = uriSans(leaf);
  if (uris.length !== 1) throw new IdentityError('WEFT_ID_CERT_SAN', `the certificate has ${uris.length} URI SANs; a workload certificate has exactly one, its SPIFFE ID`);
  let id: SpiffeId;
  try {
    id = parseSpiffeId(uris[0]!);
  } catch (err) {
    throw new IdentityError('WEFT_ID_CERT_SAN', `the certificate's URI SAN is not a SPIFFE ID: ${(err as Error).message}`);
  }
  if (id.trustDomain !== bundle.trustDomain) throw new IdentityError('WEFT_ID_CERT_SAN', `the certificate's identity ${id.uri} is not in trust domain ${bundle.trustDomain}`);
  let workload: WorkloadId | null = null;
  try {
    workload = parseWorkloadId(id.uri, bundle.trustDomain);
  } catch {
    workload = null;
  }
  return Object.freeze({
    id,
    workload,
    serialNumber: leaf.serialNumber,
    notBefore: new Date(leaf.validFrom),
    notAfter: new Date(leaf.validTo),
    fingerprint256: leaf.fingerprint256,
  });
}
