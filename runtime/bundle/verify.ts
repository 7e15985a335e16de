import { createPublicKey, verify as verifySignature, type KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import type { Bundle } from '../../schemas/bundle.js';
import { digestOf, keyIdOf, signingPayload } from '../../schemas/canonical.js';
import { loadSchema, SCHEMA_DIR } from '../../schemas/index.js';
import { safeJsonError } from '../bounded-read.js';
import { BundleRejectedError, ConfigError } from '../errors.js';

/**
 * Bundle verification: everything a candidate must pass before it is built into a route table.
 * Order: size, JSON, schema (schemas/bundle.schema.json, ajv draft 2020-12), digest (recomputed
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

let validator: ValidateFunction | undefined;
let schemaNames: ReadonlySet<string> | undefined;

/** collectNames gathers every property name the schema defines (safe to repeat in a message). */
function collectNames(node: unknown, out: Set<string>): void {
  if (Array.isArray(node)) {
    for (const n of node) collectNames(n, out);
    return;
  }
  if (typeof node !== 'object' || node === null) return;
  for (const [k, v] of Object.entries(node)) {
    if (k === 'properties' && typeof v === 'object' && v !== null) for (const name of Object.keys(v)) out.add(name);
    collectNames(v, out);
  }
}

/** safeInstancePath is an ajv instancePath with every segment the schema does not name replaced by `*`. */
function safeInstancePath(p: string): string {
  if (p === '') return '/';
  return p
    .split('/')
    .map((seg, i) => (i === 0 || /^\d{1,9}$/.test(seg) || schemaNames?.has(seg.replace(/~1/g, '/').replace(/~0/g, '~')) ? seg : '*'))
    .join('/');
}

const DIGEST_SHAPE = /^sha256:[0-9a-f]{64}$/;

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
  const schema = loadSchema('bundle') as object;
  validator = ajv.compile(schema);
  const names = new Set<string>();
  collectNames(schema, names);
  schemaNames = names;
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
    throw new BundleRejectedError('WEFT_BUNDLE_PARSE', `bundle is not valid JSON (${safeJsonError(err)})`);
  }
  const digestField = (parsed as { digest?: unknown } | null)?.digest;
  const claimed = typeof digestField === 'string' && DIGEST_SHAPE.test(digestField) ? digestField : null;
  const validate = schemaValidator(claimed);
  if (!validate(parsed)) {
    const e = validate.errors?.[0];
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
