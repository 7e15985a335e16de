import { createPublicKey, verify as verifySignature, type KeyObject } from 'node:crypto';
import type { ValidateFunction } from 'ajv';
import type { Bundle } from '../../schemas/bundle.js';
import { digestOf, keyIdOf, signingPayload } from '../../schemas/canonical.js';
import { bundleSchemaNames, validate as validateBundleSchema } from '../../schemas/generated/bundle-validate.js';
import { safeJsonError } from '../bounded-read.js';
import { BundleRejectedError, ConfigError } from '../errors.js';

/**
 * Bundle verification: everything a candidate must pass before it is built into a route table.
 * Order: size, JSON, schema (schemas/bundle.schema.json, ajv draft 2020-12, compiled ahead of time
 * into schemas/generated/bundle-validate.ts by `npm run build`), digest (recomputed
 * over `spec`, so a bundle edited after compiling is refused), signature (when a trust key is
 * configured, unsigned bundles are refused too). Throws BundleRejectedError with a stable code.
 *
 * A rejection message never quotes the candidate: the file may not be a bundle at all (a swapped
 * symlink to /etc/passwd, a secret), and messages reach logs, /config and the controller. JSON
 * errors keep only a byte offset; schema errors name the schema's own property names and array
 * indices, and a key the schema does not define is shown as `*`; a claimed digest is repeated only
 * when it has the digest's shape.
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

/**
 * validateSchema is the bundle schema's validator: ajv's code for it, generated at build time
 * (scripts/generate-types.mjs) with the options it was compiled with here before, so the check is
 * the same while a proxy loads neither ajv nor the schema (ajv's compile costs about 18 MiB of RSS).
 */
const validateSchema = validateBundleSchema as unknown as ValidateFunction;

/** schemaNames: the property names the schema defines, safe to repeat in a message. */
const schemaNames: ReadonlySet<string> = new Set<string>(bundleSchemaNames);

/** safeInstancePath is an ajv instancePath with every segment the schema does not name replaced by `*`. */
function safeInstancePath(p: string): string {
  if (p === '') return '/';
  return p
    .split('/')
    .map((seg, i) => (i === 0 || /^\d{1,9}$/.test(seg) || schemaNames.has(seg.replace(/~1/g, '/').replace(/~0/g, '~')) ? seg : '*'))
    .join('/');
}

const DIGEST_SHAPE = /^sha256:[0-9a-f]{64}$/;

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
    throw new BundleRejectedError('WEFT_BUNDLE_PARSE', `bundle is not valid JSON (${safeJsonError(err)})`);
  }
  const digestField = (parsed as { digest?: unknown } | null)?.digest;
  const claimed = typeof digestField === 'string' && DIGEST_SHAPE.test(digestField) ? digestField : null;
  if (!validateSchema(parsed)) {
    const e = validateSchema.errors?.[0];
    throw new BundleRejectedError('WEFT_BUNDLE_SCHEMA', `bundle does not match the schema: ${e ? `${safeInstancePath(e.instancePath)} ${e.message ?? ''}` : 'invalid'}`, claimed);
  }
  const bundle = parsed as Bundle;
  const actual = digestOf(bundle.spec);
  if (actual !== bundle.digest) throw new BundleRejectedError('WEFT_BUNDLE_DIGEST', `digest mismatch: bundle says ${claimed ?? 'a malformed digest'}, content is ${actual}`, claimed);
  if (opts.trustKey) {
    const sig = bundle.signature;
    if (!sig) throw new BundleRejectedError('WEFT_BUNDLE_UNSIGNED', 'bundle is not signed and a trust key is configured', claimed);
    if (sig.alg !== 'ed25519' || sig.keyId !== opts.trustKey.keyId) {
      throw new BundleRejectedError('WEFT_BUNDLE_SIGNATURE', `bundle is signed by key ${/^[0-9a-f]{16}$/.test(sig.keyId) ? sig.keyId : '(malformed key id)'}, not the trusted key ${opts.trustKey.keyId}`, claimed);
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
