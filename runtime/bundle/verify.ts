import { createPublicKey, verify as verifySignature, type KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import type { Bundle } from '../../schemas/bundle.js';
import { digestOf, keyIdOf, signingPayload } from '../../schemas/canonical.js';
import { loadSchema, SCHEMA_DIR } from '../../schemas/index.js';
import { BundleRejectedError, ConfigError } from '../errors.js';

/**
 * Bundle verification: everything a candidate must pass before it is built into a route table.
 * Order: size, JSON, schema (schemas/bundle.schema.json, ajv draft 2020-12), digest (recomputed
 * over `spec`, so a bundle edited after compiling is refused), signature (when a trust key is
 * configured, unsigned bundles are refused too). Throws BundleRejectedError with a stable code.
 */

/** MAX_BUNDLE_BYTES is the default size limit (a 10,000-route bundle is a few MiB). */
export const MAX_BUNDLE_BYTES = 64 * 1024 * 1024;

/** TrustKey is a public key bundles must be signed with. */
export interface TrustKey {
  readonly key: KeyObject;
  readonly keyId: string;
}

/** loadTrustKey reads an ed25519 public key PEM (SPKI). Throws ConfigError when it is not one. */
export function loadTrustKey(pem: string): TrustKey {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (err) {
    throw new ConfigError(`--trust-key: not a public key PEM: ${(err as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new ConfigError(`--trust-key: expected an ed25519 key, got ${key.asymmetricKeyType ?? 'unknown'}`);
  return { key, keyId: keyIdOf(key.export({ type: 'spki', format: 'der' })) };
}

let validator: ValidateFunction | undefined;

/**
 * schemaValidator compiles the bundle schema once. The schema ships with Weft; an installation
 * without it refuses every bundle rather than accepting one it could not check.
 */
function schemaValidator(claimed: string | null): ValidateFunction {
  if (validator) return validator;
  if (!existsSync(path.join(SCHEMA_DIR, 'bundle.schema.json'))) {
    throw new BundleRejectedError('WEFT_BUNDLE_SCHEMA', `cannot check the bundle: ${path.join(SCHEMA_DIR, 'bundle.schema.json')} is missing from this installation`, claimed);
  }
  const ajv = new Ajv2020({ allErrors: false, strict: false });
  validator = ajv.compile(loadSchema('bundle') as object);
  return validator;
}

/** VerifyOptions: the trust key (null: signatures not required) and the size limit. */
export interface VerifyOptions {
  readonly trustKey: TrustKey | null;
  readonly maxBytes?: number;
}

/** verifyBundle parses and checks a candidate; returns the Bundle or throws BundleRejectedError. */
export function verifyBundle(text: string, opts: VerifyOptions): Bundle {
  const max = opts.maxBytes ?? MAX_BUNDLE_BYTES;
  if (text.length > max || Buffer.byteLength(text) > max) throw new BundleRejectedError('WEFT_BUNDLE_TOO_LARGE', `bundle is larger than ${max} bytes`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new BundleRejectedError('WEFT_BUNDLE_PARSE', `bundle is not valid JSON: ${(err as Error).message}`);
  }
  const claimed = typeof (parsed as { digest?: unknown } | null)?.digest === 'string' ? ((parsed as { digest: string }).digest) : null;
  const validate = schemaValidator(claimed);
  if (!validate(parsed)) {
    const e = validate.errors?.[0];
    throw new BundleRejectedError('WEFT_BUNDLE_SCHEMA', `bundle does not match the schema: ${e ? `${e.instancePath || '/'} ${e.message ?? ''}` : 'invalid'}`, claimed);
  }
  const bundle = parsed as Bundle;
  const actual = digestOf(bundle.spec);
  if (actual !== bundle.digest) throw new BundleRejectedError('WEFT_BUNDLE_DIGEST', `digest mismatch: bundle says ${bundle.digest}, content is ${actual}`, claimed);
  if (opts.trustKey) {
    const sig = bundle.signature;
    if (!sig) throw new BundleRejectedError('WEFT_BUNDLE_UNSIGNED', 'bundle is not signed and a trust key is configured', claimed);
    if (sig.alg !== 'ed25519' || sig.keyId !== opts.trustKey.keyId) {
      throw new BundleRejectedError('WEFT_BUNDLE_SIGNATURE', `bundle is signed by key ${sig.keyId}, not the trusted key ${opts.trustKey.keyId}`, claimed);
    }
    let ok = false;
    try {
      ok = verifySignature(null, signingPayload(bundle, sig.issuedAt), opts.trustKey.key, Buffer.from(sig.value, 'base64'));
    } catch {
      ok = false;
    }
    if (!ok) throw new BundleRejectedError('WEFT_BUNDLE_SIGNATURE', 'bundle signature does not verify', claimed);
  }
  return bundle;
}
