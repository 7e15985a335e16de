import path from 'node:path';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { MAX_BUNDLE_BYTES } from '../bundle/verify.js';
import { readFileBounded } from '../bounded-read.js';
import type { Bundle } from '../../schemas/bundle.js';
import { digestOf } from '../../schemas/canonical.js';
import { writeFileAtomic, writeFileAtomicChunks } from '../atomic-write.js';
import { ControllerError, messageOf } from './errors.js';
import type { CommitInfo } from './git.js';

/** StoredBundle is one published bundle: its exact bytes, parsed form and the commit it came from. */
export interface StoredBundle {
  digest: string;
  /** The bytes served to proxies, exactly as compiled (canonical JSON). */
  bytes: Buffer;
  bundle: Bundle;
  commit: CommitInfo | null;
  /** When the controller first published it (ISO 8601). */
  publishedAt: string;
  /** `bytes` gzipped, made on first demand and kept (never stored on disk). */
  gzip?: Buffer;
  /**
   * `bytes` in chunks written into `buf` (reused: each is consumed before the next), when the
   * bundle can give them without making them whole: `put` then writes them so, and `bytes` is
   * only made if someone asks for the whole bundle.
   */
  chunks?: (buf: Buffer) => Iterable<Buffer>;
}

/** WRITE_CHUNK_BYTES is the buffer a chunked bundle write reuses. */
const WRITE_CHUNK_BYTES = 1024 * 1024;

function* prepend(head: Buffer, rest: Iterable<Buffer>): Generator<Buffer> {
  yield head;
  yield* rest;
}

interface CurrentMeta {
  digest: string;
  commit: CommitInfo | null;
  publishedAt: string;
}

/**
 * BundleStore keeps the live bundle in `<dir>/current.bundle` (one line of JSON metadata, a
 * newline, then the bundle bytes exactly as served) and a history by digest under
 * `<dir>/bundles/<hex>.json`. `current.bundle` is written in one atomic step (temp file, fsync,
 * rename, directory fsync), so a crash at any moment leaves the old or the new bundle complete,
 * never a mix. The history copy and pruning happen after, in the background. On load the digest
 * is recomputed: a damaged store is ignored, never served.
 *
 * Before a bundle is served, `mark` durably records its digest in `<dir>/serving.json` (a few
 * hundred bytes, written the same atomic way); `put` then writes the bundle itself, off the
 * commit-to-proxy path. `current` answers only a bundle whose digest is the marked one, so a
 * controller that crashed between the two never serves, after a restart, a bundle older than the
 * one proxies already have: it serves nothing until it has compiled the branch head again.
 */
export class BundleStore {
  private readonly bundles: string;
  private readonly currentFile: string;
  private archiving: Promise<void> = Promise.resolve();

  constructor(
    readonly dir: string,
    private readonly keep = 20,
  ) {
    this.bundles = path.join(dir, 'bundles');
    this.currentFile = path.join(dir, 'current.bundle');
    this.servingFile = path.join(dir, 'serving.json');
  }

  private readonly servingFile: string;

  /**
   * mark records, durably, that the bundle with `digest` is about to be served: until a `put` of
   * that bundle completes, `current` answers null (see the class comment).
   */
  async mark(digest: string): Promise<void> {
    try {
      await writeFileAtomic(this.servingFile, `${JSON.stringify({ digest })}\n`);
    } catch (err) {
      throw new ControllerError('WEFT_CTL_STORE', `cannot write to the bundle store ${this.dir}: ${messageOf(err)}`);
    }
  }

  async init(): Promise<void> {
    try {
      await mkdir(this.bundles, { recursive: true });
    } catch (err) {
      throw new ControllerError('WEFT_CTL_STORE', `cannot create the bundle store ${this.dir}: ${messageOf(err)}`);
    }
  }

  /** put makes the bundle current on disk (durably, when it resolves), then archives it by digest in the background. */
  async put(entry: StoredBundle): Promise<void> {
    const meta: CurrentMeta = { digest: entry.digest, commit: entry.commit, publishedAt: entry.publishedAt };
    const head = Buffer.from(JSON.stringify(meta) + '\n');
    const chunks = entry.chunks;
    try {
      if (chunks) await writeFileAtomicChunks(this.currentFile, prepend(head, chunks(Buffer.allocUnsafe(WRITE_CHUNK_BYTES))));
      else await writeFileAtomic(this.currentFile, Buffer.concat([head, entry.bytes]));
    } catch (err) {
      throw new ControllerError('WEFT_CTL_STORE', `cannot write to the bundle store ${this.dir}: ${messageOf(err)}`);
    }
    this.archiving = this.archiving
      .then(() => (chunks ? writeFileAtomicChunks(this.fileOf(entry.digest), chunks(Buffer.allocUnsafe(WRITE_CHUNK_BYTES))) : writeFileAtomic(this.fileOf(entry.digest), entry.bytes)))
      .then(() => this.prune(entry.digest))
      .catch(() => undefined);
  }

  /** flushed resolves once background archiving has caught up (tests, shutdown). */
  flushed(): Promise<void> {
    return this.archiving;
  }

  /** current is the last bundle put, or null when the store is empty or does not verify. */
  async current(): Promise<StoredBundle | null> {
    let raw: Buffer;
    try {
      // Bounded: a store file grown past any real bundle is refused, not read whole.
      raw = await readFileBounded(this.currentFile, MAX_BUNDLE_BYTES + 64 * 1024);
    } catch {
      return null;
    }
    try {
      const nl = raw.indexOf(0x0a);
      if (nl < 0) return null;
      const meta = JSON.parse(raw.subarray(0, nl).toString('utf8')) as CurrentMeta;
      const bytes = Buffer.from(raw.subarray(nl + 1));
      const bundle = JSON.parse(bytes.toString('utf8')) as Bundle;
      if (typeof meta.digest !== 'string' || bundle.digest !== meta.digest || digestOf(bundle.spec) !== meta.digest) return null;
      const marked = await this.marked();
      if (marked !== undefined && marked !== meta.digest) return null;
      return { digest: meta.digest, bytes, bundle, commit: meta.commit ?? null, publishedAt: meta.publishedAt };
    } catch {
      return null;
    }
  }

  /** marked is the digest last marked as served; undefined when nothing was ever marked (a store written before marks existed); null when unreadable. */
  private async marked(): Promise<string | null | undefined> {
    let raw: Buffer;
    try {
      raw = await readFileBounded(this.servingFile, 64 * 1024);
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'ENOENT' ? undefined : null;
    }
    try {
      const m = JSON.parse(raw.toString('utf8')) as { digest?: unknown };
      return typeof m.digest === 'string' ? m.digest : null;
    } catch {
      return null;
    }
  }

  private fileOf(digest: string): string {
    return path.join(this.bundles, `${digest.replace(/^sha256:/, '')}.json`);
  }

  /** prune keeps the `keep` most recently written bundles (and always the current one). */
  private async prune(currentDigest: string): Promise<void> {
    const names = (await readdir(this.bundles)).filter((n) => n.endsWith('.json'));
    if (names.length <= this.keep) return;
    const withTimes = await Promise.all(
      names.map(async (n) => ({ n, t: (await stat(path.join(this.bundles, n))).mtimeMs })),
    );
    withTimes.sort((a, b) => b.t - a.t);
    const current = `${currentDigest.replace(/^sha256:/, '')}.json`;
    for (const { n } of withTimes.slice(this.keep)) {
      if (n !== current) await rm(path.join(this.bundles, n), { force: true });
    }
  }
}
