/**
 * emit: the lowered spec becomes the bundle: canonical JSON, `digest` over the spec only (so file
 * names, positions and the revision never change it), and an optional ed25519 signature over
 * digest and revision. The JSON text is exactly what `weft compile` writes: canonicalJson + "\n".
 */
import { createPrivateKey, createPublicKey, sign, type KeyObject } from 'node:crypto';
import { BUNDLE_API_VERSION, type Bundle } from '../schemas/bundle.js';
import { canonicalJson, digestOf, keyIdOf, signingPayload } from '../schemas/canonical.js';
import { report } from './diagnostics.js';
import type { LoweredTree, PassContext } from './types.js';

/** EmitResult is the bundle and its exact bytes (canonical JSON and a trailing newline). */
export interface EmitResult {
  bundle: Bundle;
  json: string;
}

/**
 * emit builds the Bundle for `input`. With ctx.options.signKey it signs; a key that is not an
 * ed25519 private key in PEM form is reported as WFT601 (an error, so compile() yields no bundle).
 */
export function emit(input: LoweredTree, ctx: PassContext): EmitResult {
  const bundle: Bundle = {
    apiVersion: BUNDLE_API_VERSION,
    digest: digestOf(input.spec),
    revision: ctx.revision,
    spec: input.spec,
    sources: input.sources,
  };
  const pem = ctx.options.signKey;
  if (pem !== undefined) {
    const key = privateKey(pem);
    if (typeof key === 'string') {
      report(ctx, 'WFT601', `the signing key cannot be used: ${key}`, null, { hint: 'pass the PEM text of an ed25519 private key (openssl genpkey -algorithm ed25519)' });
    } else {
      const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
      bundle.signature = {
        alg: 'ed25519',
        keyId: keyIdOf(spki),
        value: sign(null, signingPayload(bundle), key).toString('base64'),
      };
    }
  }
  return { bundle, json: `${canonicalJson(bundle)}\n` };
}

/** privateKey parses an ed25519 private key, or returns why it cannot. */
function privateKey(pem: string): KeyObject | string {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch (err) {
    return err instanceof Error ? err.message : 'not a PEM private key';
  }
  if (key.asymmetricKeyType !== 'ed25519') return `it is a ${key.asymmetricKeyType ?? 'unknown'} key, not ed25519`;
  return key;
}
