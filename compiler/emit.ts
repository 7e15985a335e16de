/**
 * emit: the lowered spec becomes the bundle: canonical JSON, `digest` over the spec only (so file
 * names, positions and the revision never change it), and an optional ed25519 signature over
 * digest, revision and issue time. The JSON text is exactly what `weft compile` writes: canonicalJson + "\n".
 */
import { createHash, createPrivateKey, createPublicKey, sign, type Hash, type KeyObject } from 'node:crypto';
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
 * With a memo (a long-lived compiler: the controller), the bundle's text is made on first use of
 * `json`, not here: the controller serves slices first and needs the whole text only to store it.
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
  const memo = ctx.options.memo;
  return assembleBundle(input.spec, input.sources, ctx.revision, key, ctx.options.issuedAt, memo !== undefined, memo ? checkpointsOf(memo) : undefined);
}

/**
 * assembleBundle makes a Bundle and its exact bytes from a spec: the digest over the spec's
 * canonical JSON, signed with `key` when given, as issued at `issuedAt` (RFC 3339; default now:
 * the signing time is the one clock reading in a bundle, and only in a signed one). emit() and
 * slices (compiler/slice.ts) both end here, so a slice is a bundle in every respect. With
 * `lazyText`, `json` is made on first read (the same text).
 */
export function assembleBundle(spec: BundleSpec, sources: SourceMap, revision: Revision | null, key: KeyObject | null, issuedAt?: string, lazyText = false, checkpoints?: DigestCheckpoints): EmitResult {
  const bundle: Bundle = {
    apiVersion: BUNDLE_API_VERSION,
    digest: `sha256:${specDigest(spec, checkpoints)}`,
    revision,
    spec,
    sources,
  };
  if (key) signBundle(bundle, key, issuedAt ?? new Date().toISOString());
  const text = (): string => `${bundleJson(bundle, specJsonOf(spec))}\n`;
  if (!lazyText) return { bundle, json: text() };
  let json: string | undefined;
  return {
    bundle,
    get json(): string {
      return (json ??= text());
    },
  };
}

/**
 * DigestCheckpoints let a long-lived compiler resume the spec's sha256 where it last changed:
 * `states[c]` is the hash after the spec's head and its first c × CHECKPOINT_EVERY entries (with
 * the commas between them), for the entries in `entries` (by object identity) under `head`.
 * SHA-256 reads its input front to back, so a prefix of identical text gives an identical state;
 * a commit that changes one Service rehashes from the checkpoint before it to the end (half the
 * text on average), not the whole text.
 */
interface DigestCheckpoints {
  head: string;
  entries: readonly ServiceEntry[];
  states: Hash[];
}

/** Entries between two checkpoints of DigestCheckpoints. */
const CHECKPOINT_EVERY = 128;

/** Per CompileMemo: the last emit's digest checkpoints. */
const checkpointMemos = new WeakMap<object, DigestCheckpoints>();

function checkpointsOf(memo: object): DigestCheckpoints {
  let c = checkpointMemos.get(memo);
  if (!c) checkpointMemos.set(memo, (c = { head: '', entries: [], states: [] }));
  return c;
}

/**
 * specDigest is the hex sha256 of canonicalJson(spec), hashed from its pieces (each entry's text
 * is kept per entry object) through one reused buffer: no whole-text string is made. With
 * `checkpoints`, resumes from the last state whose prefix is unchanged, and updates them.
 */
function specDigest(spec: BundleSpec, checkpoints?: DigestCheckpoints): string {
  const keys = Object.keys(spec);
  if (!checkpoints || keys.length !== 2 || keys[0] !== 'mesh' || keys[1] !== 'services') {
    const hash = createHash('sha256');
    for (const chunk of textChunks(specTexts(spec), DIGEST_SCRATCH)) hash.update(chunk);
    return hash.digest('hex');
  }
  const head = `{"mesh":${canonicalJson(spec.mesh)},"services":[`;
  const services = spec.services;
  let block = 0;
  if (checkpoints.head === head) {
    const prev = checkpoints.entries;
    const n = Math.min(prev.length, services.length);
    let same = 0;
    while (same < n && prev[same] === services[same]) same++;
    block = Math.min(Math.floor(same / CHECKPOINT_EVERY), checkpoints.states.length - 1);
  }
  let hash: Hash;
  if (block >= 0 && checkpoints.head === head && checkpoints.states.length > 0) {
    checkpoints.states.length = block + 1;
    hash = (checkpoints.states[block] as Hash).copy();
  } else {
    block = 0;
    hash = createHash('sha256');
    hash.update(head);
    checkpoints.states = [hash.copy()];
  }
  for (let start = block * CHECKPOINT_EVERY; start < services.length; start += CHECKPOINT_EVERY) {
    const end = Math.min(start + CHECKPOINT_EVERY, services.length);
    for (const chunk of textChunks(entryTexts(services, start, end), DIGEST_SCRATCH)) hash.update(chunk);
    if (end < services.length && end % CHECKPOINT_EVERY === 0) checkpoints.states.push(hash.copy());
  }
  hash.update(']}');
  checkpoints.head = head;
  checkpoints.entries = services;
  return hash.digest('hex');
}

/** entryTexts yields the texts of services[start..end), each after a comma but the first of all. */
function* entryTexts(services: readonly ServiceEntry[], start: number, end: number): Generator<string> {
  for (let i = start; i < end; i++) {
    if (i > 0) yield ',';
    yield entryTextOf(services[i] as ServiceEntry);
  }
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
 * Values lower built in canonical order by construction (every object's keys written in code-unit
 * order, no key that is an array index, which JSON.stringify would move to the front, only finite
 * numbers): JSON.stringify of one is its canonical JSON, so it is serialised without the
 * inCanonicalOrder walk (that walk was a third of emit's time on a 100 MB bundle). Anything else
 * takes canonicalJson's own check.
 */
const builtCanonical = new WeakSet<object>();

/**
 * markCanonical records that `value` was built in canonical order (see builtCanonical) and will
 * not be changed: its text is then JSON.stringify(value). lower.ts calls it; test/compiler checks
 * every bundle's bytes against the key-sorting walk.
 */
export function markCanonical(value: object): void {
  builtCanonical.add(value);
}

/** canonicalText is canonicalJson(value), without the order check for a value lower marked. */
function canonicalText(value: object): string {
  return builtCanonical.has(value) ? JSON.stringify(value) : canonicalJson(value);
}

/**
 * Canonical JSON of each ServiceEntry, kept by object identity. Lowered entries are never
 * changed once built, and the incremental compiler and slices hand the same entry objects on
 * from commit to commit, so an unchanged Service is serialised once, not once per bundle.
 */
const entryJson = new WeakMap<ServiceEntry, string>();

/**
 * specTexts yields canonicalJson(spec) in pieces, in order: their concatenation is the text.
 * Assembled from per-Service texts (the members `mesh`, `services` are in canonical order, and
 * so is each entry's text). Entries must not be mutated after they are first serialised.
 */
function* specTexts(spec: BundleSpec): Generator<string> {
  // A spec with other members (a later schema) is serialised whole: never drop a field.
  const keys = Object.keys(spec);
  if (keys.length !== 2 || keys[0] !== 'mesh' || keys[1] !== 'services') {
    yield canonicalJson(spec);
    return;
  }
  yield `{"mesh":${canonicalJson(spec.mesh)},"services":[`;
  const services = spec.services;
  for (let i = 0; i < services.length; i++) {
    if (i > 0) yield ',';
    yield entryTextOf(services[i] as ServiceEntry);
  }
  yield ']}';
}

function entryTextOf(e: ServiceEntry): string {
  let text = entryJson.get(e);
  if (text === undefined) {
    text = canonicalText(e);
    entryJson.set(e, text);
  }
  return text;
}

/** specJsonOf is canonicalJson(spec), assembled from per-Service texts (see specTexts). */
export function specJsonOf(spec: BundleSpec): string {
  return [...specTexts(spec)].join('');
}

/**
 * bundleJson is canonicalJson(bundle) with the spec's canonical text reused: the members in sorted
 * key order (apiVersion, digest, revision, signature, sources, spec), as canonicalJson orders them.
 */
function bundleJson(bundle: Bundle, specJson: string): string {
  return `${bundleHead(bundle)}${specJson}}`;
}

/** bundleHead is the bundle's text up to its spec: every member before it, then `"spec":`. */
function bundleHead(bundle: Bundle): string {
  const parts = [
    `"apiVersion":${JSON.stringify(bundle.apiVersion)}`,
    `"digest":${JSON.stringify(bundle.digest)}`,
    `"revision":${canonicalJson(bundle.revision)}`,
  ];
  if (bundle.signature) parts.push(`"signature":${canonicalJson(bundle.signature)}`);
  parts.push(`"sources":${sourcesJsonOf(bundle.sources)}`, '"spec":');
  return `{${parts.join(',')}`;
}

/**
 * bundleTextChunks yields the bundle's exact bytes (canonical JSON and the trailing newline, the
 * `json` emit gives) in chunks written into `buf`, which is reused: consume each chunk before
 * asking for the next. A writer (the controller's store) can so write a 13 MB bundle without
 * making its text or bytes whole. The spec's text comes from the per-entry texts.
 */
export function bundleTextChunks(bundle: Bundle, buf: Buffer): Generator<Buffer> {
  return textChunks(bundleTexts(bundle), buf);
}

function* bundleTexts(bundle: Bundle): Generator<string> {
  yield bundleHead(bundle);
  yield* specTexts(bundle.spec);
  yield '}\n';
}

/** DIGEST_SCRATCH is assembleBundle's hashing buffer (used synchronously, so one suffices). */
const DIGEST_SCRATCH = Buffer.allocUnsafe(256 * 1024);

/**
 * textChunks writes `texts` as UTF-8 into `buf` and yields it (the filled part) whenever the next
 * piece would not fit, and at the end: the concatenation of the chunks is the texts' bytes. A
 * text larger than `buf` is written in slices, never split inside a surrogate pair.
 */
function* textChunks(texts: Iterable<string>, buf: Buffer): Generator<Buffer> {
  // UTF-8 needs at most 3 bytes per UTF-16 code unit.
  const slice = Math.max(2, Math.floor(buf.length / 3));
  let at = 0;
  for (const text of texts) {
    for (let i = 0; i < text.length; ) {
      let end = Math.min(i + slice, text.length);
      const last = text.charCodeAt(end - 1);
      if (end < text.length && last >= 0xd800 && last <= 0xdbff) end--;
      if (at + (end - i) * 3 > buf.length) {
        yield buf.subarray(0, at);
        at = 0;
      }
      at += i === 0 && end === text.length ? buf.write(text, at, 'utf8') : buf.write(text.slice(i, end), at, 'utf8');
      i = end;
    }
  }
  if (at > 0) yield buf.subarray(0, at);
}

/**
 * Canonical text of each SourceMap object (never changed once built; the incremental compiler
 * hands on an unchanged one), or the function that makes it.
 */
const sourceMapJson = new WeakMap<SourceMap, string | (() => string)>();

/** sourcesJsonOf is canonicalJson(sources), made once per SourceMap object. */
export function sourcesJsonOf(sources: SourceMap): string {
  const kept = sourceMapJson.get(sources);
  if (typeof kept === 'string') return kept;
  const text = kept ? kept() : canonicalText(sources);
  sourceMapJson.set(sources, text);
  return text;
}

/**
 * rememberSourcesJson records `text` (or a function that makes it, called at most once, on first
 * need) as the canonical text of `sources`, for a caller that made it from kept pieces (lower.ts,
 * with a memo). It must be exactly canonicalJson(sources); the incremental tests compare whole
 * bundles with cold compiles, which never take this path.
 */
export function rememberSourcesJson(sources: SourceMap, text: string | (() => string)): void {
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

