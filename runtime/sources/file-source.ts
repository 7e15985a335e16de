import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { MAX_BUNDLE_BYTES } from '../bundle/verify.js';
import { readFileBounded } from '../bounded-read.js';
import { ReadLimitError } from '../errors.js';
import type { BundleSink, BundleSource, SourceProblem } from './source.js';

/** FileSourceOptions tune the file source (defaults suit production; tests shorten them). */
export interface FileSourceOptions {
  /** Coalesce bursts of file events (an in-place write is several) into one read. Default 25 ms. */
  readonly debounceMs?: number;
  /** Safety net: re-read this often even without an event (missed events, NFS). Default 2000 ms; 0 disables. */
  readonly pollMs?: number;
  /** Re-read on SIGHUP. Default true. */
  readonly sighup?: boolean;
  /** Largest file read, in bytes; a larger one is refused before it is read (default MAX_BUNDLE_BYTES). */
  readonly maxBytes?: number;
}

/**
 * FileSource delivers a bundle file. It watches the file's DIRECTORY with chokidar, not the file,
 * because the file may be replaced rather than written: an atomic rename (`mv tmp bundle.json`)
 * gives the path a new inode, and a Kubernetes ConfigMap volume swaps a `..data` symlink so the
 * file's target changes without any event on the file's own path. Any event in the directory
 * triggers a re-read through the path (following symlinks); unchanged content is not offered
 * again. SIGHUP forces a re-read and an offer. Reads are serialised; so are offers (the sink's).
 *
 * Memory: a bundle file can be many MiB, and the poll runs every 2 s. The poll does not read the
 * file again while its metadata (device, inode, size, mtime, ctime, through symlinks) is what it
 * was at the last read: a replacement changes the inode and a write changes ctime, though two
 * same-size writes within one file-system clock tick do not, so a watcher event always reads.
 * What is remembered of
 * the last content is its sha256, not the text (a 5 MiB bundle kept 5 MiB of heap, and each poll
 * read it again: BENCHMARKS.md, proxy memory).
 *
 * A file that cannot be read is reported to the sink's `problem` (missing: WEFT_SRC_NOT_FOUND,
 * permissions or not a file: WEFT_SRC_UNREADABLE, over `maxBytes`: WEFT_SRC_TOO_LARGE, checked on
 * the open descriptor before reading), so a proxy waiting for a file that is not there says why.
 */
export class FileSource implements BundleSource {
  readonly description: string;
  private readonly file: string;
  private sink: BundleSink | null = null;
  private watcher: FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  private poller: NodeJS.Timeout | null = null;
  /** sha256 of the last content read, and the file's metadata then (see the class comment). */
  private lastDigest: string | null = null;
  private lastStat: string | null = null;
  private chain: Promise<void> = Promise.resolve();
  private stopped = false;
  private readonly onHup = (): void => this.enqueue('force');

  constructor(
    file: string,
    private readonly options: FileSourceOptions = {},
  ) {
    this.file = path.resolve(file);
    this.description = `file:${this.file}`;
  }

  async start(sink: BundleSink): Promise<void> {
    this.sink = sink;
    this.stopped = false;
    const w = watch(path.dirname(this.file), { depth: 0, ignoreInitial: true, persistent: true });
    this.watcher = w;
    w.on('all', () => this.schedule());
    w.on('error', () => this.schedule());
    await new Promise<void>((resolve) => w.once('ready', () => resolve()));
    const pollMs = this.options.pollMs ?? 2000;
    if (pollMs > 0) {
      this.poller = setInterval(() => this.enqueue('poll'), pollMs);
      this.poller.unref();
    }
    if (this.options.sighup ?? true) process.on('SIGHUP', this.onHup);
    this.enqueue('event');
    await this.chain;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.poller) clearInterval(this.poller);
    process.off('SIGHUP', this.onHup);
    const w = this.watcher;
    this.watcher = null;
    if (w) await w.close();
    await this.chain;
  }

  private schedule(): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.enqueue('event');
    }, this.options.debounceMs ?? 25);
  }

  /**
   * enqueue a check: `poll` (the timer: skipped while the metadata is unchanged), `event` (the
   * watcher saw a change: always read, since two same-size writes within one clock tick of the
   * file system leave the metadata equal), `force` (SIGHUP: read and offer even if unchanged).
   */
  private enqueue(how: 'poll' | 'event' | 'force'): void {
    this.chain = this.chain.then(() => this.check(how)).catch(() => {});
  }

  private async check(how: 'poll' | 'event' | 'force'): Promise<void> {
    const force = how === 'force';
    if (this.stopped || !this.sink) return;
    // Metadata first (taken before the read: a write between the two is seen at the next check).
    const meta = await statSignature(this.file);
    if (how === 'poll' && meta !== null && meta === this.lastStat) return;
    let bytes: Buffer;
    try {
      bytes = await readFileBounded(this.file, this.options.maxBytes ?? MAX_BUNDLE_BYTES);
    } catch (err) {
      // Absent (not yet created, or between unlink and rename): say so, and wait for the next event.
      this.lastStat = null;
      this.sink.problem?.(fileProblem(this.file, err));
      return;
    }
    this.sink.problem?.(null);
    this.lastStat = meta;
    const digest = createHash('sha256').update(bytes).digest('hex');
    if (this.stopped || (!force && digest === this.lastDigest)) return;
    this.lastDigest = digest;
    await this.sink.offer(bytes.toString('utf8'));
  }
}

/** statSignature is a file's device, inode, size, mtime and ctime (symlinks followed), or null when it cannot be read. */
async function statSignature(file: string): Promise<string | null> {
  try {
    const st = await stat(file, { bigint: true });
    return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
  } catch {
    return null;
  }
}

/** fileProblem names why a bundle file could not be read (the errno or the limit; never content). */
function fileProblem(file: string, err: unknown): SourceProblem {
  if (err instanceof ReadLimitError) return { code: 'WEFT_SRC_TOO_LARGE', reason: `${file}: bundle file is ${err.size ?? 'more than ' + err.limit} bytes, over the ${err.limit}-byte limit; not read` };
  const code = (err as NodeJS.ErrnoException).code ?? 'error';
  if (code === 'ENOENT') return { code: 'WEFT_SRC_NOT_FOUND', reason: `${file} does not exist (waiting for it to appear)` };
  if (code === 'ENOTDIR') return { code: 'WEFT_SRC_NOT_FOUND', reason: `${file}: a parent is not a directory (waiting for it to appear)` };
  if (code === 'ENOTREGULAR') return { code: 'WEFT_SRC_UNREADABLE', reason: `${file} is not a regular file` };
  return { code: 'WEFT_SRC_UNREADABLE', reason: `${file} cannot be read: ${code}` };
}
