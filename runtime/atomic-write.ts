import { open, realpath, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import writeFileAtomicFile from 'write-file-atomic';

/**
 * writeFileAtomic replaces `file` (created with `mode`) so that a reader sees either the old or
 * the new content, never a torn write, even across a crash. write-file-atomic writes a temp file
 * beside it (same file system), fsyncs it and renames it over the target, writing through a
 * symlink to its target; then the directory is fsynced so the rename itself survives power loss.
 * Concurrent calls for one file are applied in call order. Rejects with the file system's error.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  await writeFileAtomicFile(file, typeof data === 'string' ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength), { mode, fsync: true });
  await fsyncDirectory(path.dirname(await realpath(file).catch(() => file)));
}

async function fsyncDirectory(dir: string): Promise<void> {
  let d;
  try {
    d = await open(dir, 'r');
    await d.sync();
  } catch {
    // Some file systems refuse fsync on a directory; the rename is still atomic there.
  } finally {
    await d?.close();
  }
}

let tempCounter = 0;

/**
 * writeFileAtomicChunks is writeFileAtomic for content given as chunks (written in order, each
 * consumed before the next is asked for, so a producer may reuse one buffer): a temp file beside
 * the target (through a symlink, its target), fsynced, renamed over it, then the directory
 * fsynced. A large file is so written without ever being whole in memory. The temp file is
 * removed when a write fails. Rejects with the file system's error.
 */
export async function writeFileAtomicChunks(file: string, chunks: Iterable<Uint8Array>, mode = 0o644): Promise<void> {
  const target = await realpath(file).catch(() => file);
  const temp = `${target}.${process.pid}.${++tempCounter}.tmp`;
  const fh = await open(temp, 'wx', mode);
  try {
    try {
      for (const chunk of chunks) {
        let at = 0;
        while (at < chunk.byteLength) at += (await fh.write(chunk, at, chunk.byteLength - at)).bytesWritten;
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(temp, target);
  } catch (err) {
    await rm(temp, { force: true }).catch(() => undefined);
    throw err;
  }
  await fsyncDirectory(path.dirname(target));
}
