import { X509Certificate, randomBytes } from 'node:crypto';
import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../atomic-write.js';
import { MAX_PEM_FILE_BYTES, readFileBounded } from '../bounded-read.js';
import { IdentityError } from './errors.js';
import { ECDSA_SHA256, generateKeyPair, loadKeyPair, type KeyPair } from './keys.js';
import { checkTrustDomain, parseSpiffeId } from './spiffe-id.js';
import { uriSans, x509 as x509lib } from './x509.js';

/**
 * The mesh CA: one self-signed ECDSA P-256 root per trust domain. The root carries the trust
 * domain's own SPIFFE ID (`spiffe://<td>`) as its one URI SAN (the X.509-SVID spec allows a
 * signing certificate to name its trust domain), so `ca.pem` alone says which trust domain it
 * anchors and nothing else has to be kept in step with it.
 */

/** CA_CERT_FILE and CA_KEY_FILE are the names `weft ca init` writes in its --out-dir. */
export const CA_CERT_FILE = 'ca.pem';
export const CA_KEY_FILE = 'ca.key';
/** DEFAULT_CA_VALIDITY_MS: ten years; the root is rotated by adding a new one to the trust bundle. */
export const DEFAULT_CA_VALIDITY_MS = 10 * 365 * 24 * 3600_000;

/** MeshCa is a loaded CA: its certificate (node form and PEM), its key and its trust domain. */
export interface MeshCa {
  readonly trustDomain: string;
  readonly cert: X509Certificate;
  readonly certPem: string;
  readonly key: KeyPair;
}

/** randomSerial is a positive 128-bit serial number in hex (RFC 5280 §4.1.2.2: at most 20 octets, positive). */
export function randomSerial(): string {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x01;
  return b.toString('hex');
}

/** createCa makes a new root for `trustDomain` (checked); `now` and `validityMs` are for tests and rotation. */
export async function createCa(trustDomain: string, opts: { now?: Date; validityMs?: number } = {}): Promise<MeshCa> {
  checkTrustDomain(trustDomain);
  const key = await generateKeyPair();
  const now = opts.now ?? new Date();
  const lib = x509lib();
  const cert = await lib.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: `O=Weft, CN=Weft mesh CA ${trustDomain}`,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + (opts.validityMs ?? DEFAULT_CA_VALIDITY_MS)),
    keys: key.cryptoKeys,
    signingAlgorithm: ECDSA_SHA256,
    extensions: [
      new lib.BasicConstraintsExtension(true, 1, true),
      new lib.KeyUsagesExtension(lib.KeyUsageFlags.keyCertSign | lib.KeyUsageFlags.cRLSign, true),
      new lib.SubjectAlternativeNameExtension([{ type: 'url', value: `spiffe://${trustDomain}` }]),
      await lib.SubjectKeyIdentifierExtension.create(key.cryptoKeys.publicKey),
    ],
  });
  const certPem = cert.toString('pem') + '\n';
  return Object.freeze({ trustDomain, cert: new X509Certificate(certPem), certPem, key });
}

/** trustDomainOfCa reads the trust domain from a CA certificate's `spiffe://<td>` URI SAN, or null. */
export function trustDomainOfCa(certPem: string): string | null {
  let uris: string[];
  try {
    uris = uriSans(new X509Certificate(certPem));
  } catch {
    return null;
  }
  if (uris.length !== 1) return null;
  try {
    const id = parseSpiffeId(uris[0]!);
    return id.path === '' ? id.trustDomain : null;
  } catch {
    return null;
  }
}

/** loadCa checks that `certPem` is a CA certificate whose key is `keyPem`; throws IdentityError WEFT_ID_CA. */
export async function loadCa(certPem: string, keyPem: string, where = 'the CA'): Promise<MeshCa> {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch (err) {
    throw new IdentityError('WEFT_ID_CA', `${where}: ${CA_CERT_FILE} is not a PEM certificate: ${(err as Error).message}`, 500);
  }
  if (!cert.ca) throw new IdentityError('WEFT_ID_CA', `${where}: ${CA_CERT_FILE} is not a CA certificate`, 500);
  const key = await loadKeyPair(keyPem, `${where}: ${CA_KEY_FILE}`);
  if (!cert.checkPrivateKey(key.privateKey)) throw new IdentityError('WEFT_ID_CA', `${where}: ${CA_KEY_FILE} is not the key of ${CA_CERT_FILE}`, 500);
  const trustDomain = trustDomainOfCa(certPem);
  if (!trustDomain) throw new IdentityError('WEFT_ID_CA', `${where}: ${CA_CERT_FILE} names no trust domain (one URI SAN spiffe://<trust-domain>); make it with weft ca init`, 500);
  return Object.freeze({ trustDomain, cert, certPem: cert.toString(), key });
}

/** loadCaDir reads DIR/ca.pem and DIR/ca.key (the key must not be readable by group or others). */
export async function loadCaDir(dir: string): Promise<MeshCa> {
  const certFile = path.join(dir, CA_CERT_FILE);
  const keyFile = path.join(dir, CA_KEY_FILE);
  let certPem: string;
  let keyPem: string;
  try {
    certPem = (await readFileBounded(certFile, MAX_PEM_FILE_BYTES)).toString('utf8');
    keyPem = (await readFileBounded(keyFile, MAX_PEM_FILE_BYTES)).toString('utf8');
  } catch (err) {
    throw new IdentityError('WEFT_ID_CA', `cannot read the CA in ${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message} (weft ca init --out-dir ${dir} makes one)`, 500);
  }
  if (process.platform !== 'win32' && ((await stat(keyFile)).mode & 0o077) !== 0) {
    throw new IdentityError('WEFT_ID_CA', `${keyFile} is readable by other users; chmod 600 it`, 500);
  }
  return loadCa(certPem, keyPem, dir);
}

/** writeCaDir writes DIR/ca.pem (0644) and DIR/ca.key (0600) atomically; refuses to overwrite unless `force`. */
export async function writeCaDir(dir: string, ca: MeshCa, force = false): Promise<{ certFile: string; keyFile: string }> {
  const certFile = path.join(dir, CA_CERT_FILE);
  const keyFile = path.join(dir, CA_KEY_FILE);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if (!force) {
    for (const f of [certFile, keyFile]) {
      const exists = await stat(f).then(() => true, () => false);
      if (exists) throw new IdentityError('WEFT_ID_CA', `${f} exists; a new CA would orphan every certificate issued by it (use --force to replace it)`, 500);
    }
  }
  await writeFileAtomic(keyFile, ca.key.privateKeyPem, 0o600);
  await writeFileAtomic(certFile, ca.certPem, 0o644);
  return { certFile, keyFile };
}
