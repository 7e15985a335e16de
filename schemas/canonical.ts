import { createHash } from 'node:crypto';

/**
 * canonicalJson serialises a JSON value with object keys sorted (UTF-16 code unit order) and no
 * whitespace, so equal content gives equal bytes on any machine. Undefined object members are
 * dropped, as JSON.stringify does; non-finite numbers are refused.
 *
 * The compiler builds bundles with keys already in order, and JSON.parse of canonical text keeps
 * that order, so the common case is a check (inCanonicalOrder) and then native JSON.stringify,
 * several times faster than the walk on a multi-megabyte bundle (proxies recompute the digest of
 * every bundle they are offered).
 */
export function canonicalJson(value: unknown): string {
  return inCanonicalOrder(value) ? JSON.stringify(value) : canonicalJsonByWalk(value);
}

/**
 * inCanonicalOrder is true when JSON.stringify(value) equals canonicalJson(value): plain JSON data
 * only (no undefined, no non-finite numbers, no class instances, no toJSON), and the own keys of
 * every object, in the order JSON.stringify visits them, already sorted by code unit.
 */
export function inCanonicalOrder(value: unknown): boolean {
  if (value === null) return true;
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value);
    case 'object':
      break;
    default:
      return false;
  }
  if (Array.isArray(value)) {
    for (const v of value as unknown[]) if (!inCanonicalOrder(v)) return false;
    return true;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  const obj = value as Record<string, unknown>;
  let previous: string | null = null;
  for (const key in obj) {
    if (!Object.hasOwn(obj, key)) return false;
    if ((previous !== null && previous >= key) || key === 'toJSON') return false;
    previous = key;
    if (!inCanonicalOrder(obj[key])) return false;
  }
  return true;
}

/** canonicalJsonByWalk is canonicalJson by sorting every object's keys: the definition, and the fallback. */
export function canonicalJsonByWalk(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('canonicalJson: non-finite number');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJsonByWalk(v === undefined ? null : v)).join(',')}]`;
  if (typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    const parts: string[] = [];
    for (const key of Object.keys(obj).sort()) {
      const v = obj[key];
      if (v === undefined) continue;
      parts.push(`${JSON.stringify(key)}:${canonicalJsonByWalk(v)}`);
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
 * content), the revision (a signed bundle cannot be replayed as another commit) and the time it
 * was issued (a proxy refuses one issued before its active bundle: no rollback by replay).
 */
export function signingPayload(bundle: { digest: string; revision: unknown }, issuedAt: string): Buffer {
  return Buffer.from(canonicalJson({ digest: bundle.digest, issuedAt, revision: bundle.revision ?? null }), 'utf8');
}

/** keyIdOf is the first 16 hex chars of sha256 over a public key's SPKI DER encoding. */
export function keyIdOf(spkiDer: Buffer): string {
  return createHash('sha256').update(spkiDer).digest('hex').slice(0, 16);
}
