/**
 * emit: the lowered spec becomes the bundle: canonical JSON, `digest` over the spec only (so file
 * names, positions and the revision never change it), and an optional ed25519 signature over
 * digest, revision and issue time. The JSON text is exactly what `weft compile` writes: canonicalJson + "\n".
 */
import { createHash, createPrivateKey, createPublicKey, sign, type KeyObject } from 'node:crypto';
import { BUNDLE_API_VERSION, type Bundle, type BundleSpec, type Revision, type ServiceEntry, type SourceMap } from '../schemas/bundle.js';
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
  let key: KeyObject | null = null;
  const pem = ctx.options.signKey;
  if (pem !== undefined) {
    const k = signingKey(pem);
    if (typeof k === 'string') {
      report(ctx, 'WFT601', `the signing key cannot be used: ${k}`, null, { hint: 'pass the PEM text of an ed25519 private key (openssl genpkey -algorithm ed25519)' });
    } else {
      key = k;
    }
  }
  return assembleBundle(input.spec, input.sources, ctx.revision, key, ctx.options.issuedAt);
}

/**
 * assembleBundle makes a Bundle and its exact bytes from a spec: the digest over the spec's
 * canonical JSON, signed with `key` when given, as issued at `issuedAt` (RFC 3339; default now:
 * the signing time is the one clock reading in a bundle, and only in a signed one). emit() and
 * slices (compiler/slice.ts) both end here, so a slice is a bundle in every respect.
 */
export function assembleBundle(spec: BundleSpec, sources: SourceMap, revision: Revision | null, key: KeyObject | null, issuedAt?: string): EmitResult {
  // The spec is serialised once: its bytes give the digest and are spliced into the bundle text.
  const specJson = specJsonOf(spec);
  const bundle: Bundle = {
    apiVersion: BUNDLE_API_VERSION,
    digest: `sha256:${createHash('sha256').update(specJson).digest('hex')}`,
    revision,
    spec,
    sources,
  };
  if (key) signBundle(bundle, key, issuedAt ?? new Date().toISOString());
  return { bundle, json: `${bundleJson(bundle, specJson)}\n` };
}

/** signBundle sets `bundle.signature`: ed25519 with `key` over signingPayload(bundle, issuedAt). */
export function signBundle(bundle: Bundle, key: KeyObject, issuedAt: string): void {
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  bundle.signature = {
    alg: 'ed25519',
    issuedAt,
    keyId: keyIdOf(spki),
    value: sign(null, signingPayload(bundle, issuedAt), key).toString('base64'),
  };
}

/**
 * Canonical JSON of each ServiceEntry, kept by object identity. Lowered entries are never
 * changed once built, and the incremental compiler and slices hand the same entry objects on
 * from commit to commit, so an unchanged Service is serialised once, not once per bundle.
 */
const entryJson = new WeakMap<ServiceEntry, string>();

/**
 * specJsonOf is canonicalJson(spec), assembled from per-Service pieces (the members `mesh`,
 * `services` are in canonical order, and so is each entry's text). Entries must not be mutated
 * after they are first serialised.
 */
export function specJsonOf(spec: BundleSpec): string {
  // A spec with other members (a later schema) is serialised whole: never drop a field.
  const keys = Object.keys(spec);
  if (keys.length !== 2 || keys[0] !== 'mesh' || keys[1] !== 'services') return canonicalJson(spec);
  const parts: string[] = new Array<string>(spec.services.length);
  spec.services.forEach((e, i) => {
    let text = entryJson.get(e);
    if (text === undefined) {
      text = canonicalJson(e);
      entryJson.set(e, text);
    }
    parts[i] = text;
  });
  return `{"mesh":${canonicalJson(spec.mesh)},"services":[${parts.join(',')}]}`;
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
  parts.push(`"sources":${sourcesJsonOf(bundle.sources)}`, `"spec":${specJson}`);
  return `{${parts.join(',')}}`;
}

/** Canonical text of each SourceMap object (never changed once built; the incremental compiler hands on an unchanged one). */
const sourceMapJson = new WeakMap<SourceMap, string>();

/** sourcesJsonOf is canonicalJson(sources), made once per SourceMap object. */
export function sourcesJsonOf(sources: SourceMap): string {
  let text = sourceMapJson.get(sources);
  if (text === undefined) sourceMapJson.set(sources, (text = canonicalJson(sources)));
  return text;
}

/**
 * rememberSourcesJson records `text` as the canonical text of `sources`, for a caller that made
 * it from kept pieces (lower.ts, with a memo). It must be exactly canonicalJson(sources); the
 * incremental tests compare whole bundles with cold compiles, which never take this path.
 */
export function rememberSourcesJson(sources: SourceMap, text: string): void {
  sourceMapJson.set(sources, text);
}

/** The ids of each SourceMap in order, where the maker kept them (lower.ts, with a memo). */
const sourceIds = new WeakMap<SourceMap, readonly string[]>();

/** rememberSourceIds records `ids` as exactly Object.keys(sources), in order (sorted), for sourceIdsOf. */
export function rememberSourceIds(sources: SourceMap, ids: readonly string[]): void {
  sourceIds.set(sources, ids);
}

/**
 * sourceIdsOf is Object.keys(sources): in code-unit order, as every SourceMap is built (and as
 * canonical JSON keeps it when parsed back). Kept by lower.ts, so not rebuilt per call.
 */
export function sourceIdsOf(sources: SourceMap): readonly string[] {
  let ids = sourceIds.get(sources);
  if (!ids) sourceIds.set(sources, (ids = Object.keys(sources)));
  return ids;
}

/** signingKey parses an ed25519 private key (PEM), or returns why it cannot. */
export function signingKey(pem: string): KeyObject | string {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch (err) {
    return err instanceof Error ? err.message : 'not a PEM private key';
  }
  if (key.asymmetricKeyType !== 'ed25519') return `it is a ${key.asymmetricKeyType ?? 'unknown'} key, not ed25519`;
  return key;
}

