/**
 * emit: the lowered spec becomes the bundle: canonical JSON, `digest` over the spec only (so file
 * names, positions and the revision never change it), and an optional ed25519 signature over
 * digest and revision. The JSON text is exactly what `weft compile` writes: canonicalJson + "\n".
 */
import { createHash, createPrivateKey, createPublicKey, sign, type KeyObject } from 'node:crypto';
import { BUNDLE_API_VERSION, type Bundle } from '../schemas/bundle.js';
import { canonicalJson, keyIdOf, signingPayload } from '../schemas/canonical.js';
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
  // The spec is serialised once: its bytes give the digest and are spliced into the bundle text.
  const specJson = canonicalJson(input.spec);
  const bundle: Bundle = {
    apiVersion: BUNDLE_API_VERSION,
    digest: `sha256:${createHash('sha256').update(specJson).digest('hex')}`,
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
  return { bundle, json: `${bundleJson(bundle, specJson)}\n` };
}

/**
 * bundleJson is canonicalJson(bundle) with the spec's canonical text reused: the members in sorted
 * key order (apiVersion, digest, revision, signature, sources, spec), as canonicalJson orders them.
 */
function bundleJson(bundle: Bundle, specJson: string): string {
  const parts = [
    `"apiVersion":${JSON.stringify(bundle.apiVersion)}`,
    `"digest":${JSON.stringify(bundle.digest)}`,
    `"revision":${canonicalJson(bundle.revision)}`,
  ];
  if (bundle.signature) parts.push(`"signature":${canonicalJson(bundle.signature)}`);
  parts.push(`"sources":${canonicalJson(bundle.sources)}`, `"spec":${specJson}`);
  return `{${parts.join(',')}}`;
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

