import { createPrivateKey, createPublicKey, webcrypto, type KeyObject } from 'node:crypto';
import { IdentityError } from './errors.js';

/**
 * Keys: every key in the mesh (CA, controller, proxies) is ECDSA P-256, the curve every TLS stack
 * and the X.509-SVID profile accept. A key lives on disk as PKCS#8 PEM; in memory it is held both
 * as a node KeyObject (node:crypto, node:tls) and as a WebCrypto CryptoKey (@peculiar/x509 signs
 * and verifies through WebCrypto).
 */

/** EC_P256 is the WebCrypto algorithm of every mesh key. */
export const EC_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
/** ECDSA_SHA256 is the signature algorithm of every certificate, CSR and join token. */
export const ECDSA_SHA256 = { name: 'ECDSA', hash: 'SHA-256' } as const;

/** KeyPair is one P-256 key in both forms, and its private half as PKCS#8 PEM. */
export interface KeyPair {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly cryptoKeys: webcrypto.CryptoKeyPair;
  readonly privateKeyPem: string;
}

/** generateKeyPair makes a fresh ECDSA P-256 key. */
export async function generateKeyPair(): Promise<KeyPair> {
  const cryptoKeys = (await webcrypto.subtle.generateKey(EC_P256, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const privateKey = createPrivateKey({ key: Buffer.from(await webcrypto.subtle.exportKey('pkcs8', cryptoKeys.privateKey)), format: 'der', type: 'pkcs8' });
  return Object.freeze({
    privateKey,
    publicKey: createPublicKey(privateKey),
    cryptoKeys,
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  });
}

/** loadKeyPair reads a P-256 private key PEM (PKCS#8 or SEC1); throws IdentityError WEFT_ID_CA when it is not one. */
export async function loadKeyPair(pem: string, what = 'key'): Promise<KeyPair> {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: pem, format: 'pem' });
  } catch (err) {
    throw new IdentityError('WEFT_ID_CA', `${what} is not a PEM private key: ${(err as Error).message}`, 500);
  }
  if (privateKey.asymmetricKeyType !== 'ec' || privateKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new IdentityError('WEFT_ID_CA', `${what} is not an ECDSA P-256 key`, 500);
  }
  const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'der' });
  const publicKey = createPublicKey(privateKey);
  const priv = await webcrypto.subtle.importKey('pkcs8', pkcs8, EC_P256, true, ['sign']);
  const pub = await webcrypto.subtle.importKey('spki', publicKey.export({ type: 'spki', format: 'der' }), EC_P256, true, ['verify']);
  return Object.freeze({
    privateKey,
    publicKey,
    cryptoKeys: { privateKey: priv, publicKey: pub },
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  });
}
