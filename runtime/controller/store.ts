import path from 'node:path';
import { mkdir, readFile, readdir, rm, stat } from 'node:fs/promises';
import type { Bundle } from '../../schemas/bundle.js';
import { digestOf } from '../../schemas/canonical.js';
import { writeFileAtomic } from './atomic-write.js';
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
}

interface CurrentPointer {
  digest: string;
  commit: CommitInfo | null;
  publishedAt: string;
}

/**
 * BundleStore keeps bundles by digest under `<dir>/bundles/<hex>.json` and a pointer to the live
 * one in `<dir>/current.json`. Every write is atomic (temp file, fsync, rename), and the bundle
 * is written before the pointer, so a crash at any moment leaves a pointer to a complete bundle.
 * On load the digest is recomputed: a damaged store is ignored, never served.
 */
export class BundleStore {
  private readonly bundles: string;

  constructor(
    readonly dir: string,
    private readonly keep = 20,
  ) {
    this.bundles = path.join(dir, 'bundles');
  }

  async init(): Promise<void> {
    try {
      await mkdir(this.bundles, { recursive: true });
    } catch (err) {
      throw new ControllerError('WEFT_CTL_STORE', `cannot create the bundle store ${this.dir}: ${messageOf(err)}`);
    }
  }

  /** put stores the bundle and makes it current. */
  async put(entry: StoredBundle): Promise<void> {
    try {
      await writeFileAtomic(this.fileOf(entry.digest), entry.bytes);
      const pointer: CurrentPointer = { digest: entry.digest, commit: entry.commit, publishedAt: entry.publishedAt };
      await writeFileAtomic(path.join(this.dir, 'current.json'), JSON.stringify(pointer, null, 2) + '\n');
    } catch (err) {
      throw new ControllerError('WEFT_CTL_STORE', `cannot write to the bundle store ${this.dir}: ${messageOf(err)}`);
    }
    await this.prune(entry.digest).catch(() => undefined);
  }

  /** current is the last bundle put, or null when the store is empty or does not verify. */
  async current(): Promise<StoredBundle | null> {
    let pointer: CurrentPointer;
    try {
      pointer = JSON.parse(await readFile(path.join(this.dir, 'current.json'), 'utf8')) as CurrentPointer;
    } catch {
      return null;
    }
    if (typeof pointer.digest !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(pointer.digest)) return null;
    try {
      const bytes = await readFile(this.fileOf(pointer.digest));
      const bundle = JSON.parse(bytes.toString('utf8')) as Bundle;
      if (bundle.digest !== pointer.digest || digestOf(bundle.spec) !== pointer.digest) return null;
      return { digest: pointer.digest, bytes, bundle, commit: pointer.commit ?? null, publishedAt: pointer.publishedAt };
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
