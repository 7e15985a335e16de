import { open, realpath } from 'node:fs/promises';
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
