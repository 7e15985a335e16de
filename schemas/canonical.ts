import { createHash } from 'node:crypto';

/**
 * canonicalJson serialises a JSON value with object keys sorted (UTF-16 code unit order) and no
 * whitespace, so equal content gives equal bytes on any machine. Undefined object members are
 * dropped, as JSON.stringify does; non-finite numbers are refused.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('canonicalJson: non-finite number');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(',')}]`;
  if (typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    const parts: string[] = [];
    for (const key of Object.keys(obj).sort()) {
      const v = obj[key];
      if (v === undefined) continue;
      parts.push(`${JSON.stringify(key)}:${canonicalJson(v)}`);
    }
    return `{${parts.join(',')}}`;
  }
  throw new TypeError(`canonicalJson: cannot serialise ${typeof value}`);
}

/** digestOf is `sha256:<hex>` over canonicalJson(value): the bundle digest when given a BundleSpec. */
export function digestOf(value: unknown): string {
  return `sha256:${createHash('sha256').update(canonicalJson(value)).digest('hex')}`;
}

/**
 * signingPayload is the exact bytes an ed25519 bundle signature covers: the digest (hence the
 * content) and the revision, so a signed bundle cannot be replayed as another commit.
 */
export function signingPayload(bundle: { digest: string; revision: unknown }): Buffer {
  return Buffer.from(canonicalJson({ digest: bundle.digest, revision: bundle.revision ?? null }), 'utf8');
}

/** keyIdOf is the first 16 hex chars of sha256 over a public key's SPKI DER encoding. */
export function keyIdOf(spkiDer: Buffer): string {
  return createHash('sha256').update(spkiDer).digest('hex').slice(0, 16);
}
