import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { ReadLimitError } from './errors.js';

/**
 * Bounded reads: everything the runtime reads from disk or the network has a size limit that is
 * checked BEFORE the bytes are held in memory. A 200 MB file must never be read whole just to be
 * refused: the size is checked on the open descriptor (fstat, so a symlink swapped in between
 * checks cannot change which file is measured), and the read itself stops at `maxBytes + 1`, so a
 * file that grows while it is read, or a device / FIFO whose fstat size is 0 (`/dev/zero`), is cut
 * off too. Errors carry stable codes and never quote the content.
 */

/** MAX_PEM_FILE_BYTES bounds a PEM file (a key, a certificate chain, a trust bundle of many roots). */
export const MAX_PEM_FILE_BYTES = 1024 * 1024;

/**
 * readFileBounded reads a regular file of at most `maxBytes` bytes. Throws ReadLimitError when it
 * is larger (checked with fstat before reading, and again while reading), an error with code
 * `ENOTREGULAR` for anything but a regular file (a directory, a FIFO — opened non-blocking so it
 * cannot hang the reader —, a device such as /dev/zero), and the filesystem error (ENOENT,
 * EACCES...) otherwise. Follows symlinks, as open(2) does.
 */
export async function readFileBounded(file: string, maxBytes: number): Promise<Buffer> {
  const fh = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw Object.assign(new Error(`${file} is not a regular file`), { code: 'ENOTREGULAR' });
    if (st.size > maxBytes) throw new ReadLimitError(file, maxBytes, st.size);
    // Read one byte past the limit: getting it means the file grew (or fstat did not know).
    const cap = maxBytes + 1;
    let buf = Buffer.allocUnsafe(Math.min(cap, Math.max(st.size + 1, 4096)));
    let used = 0;
    for (;;) {
      if (used === buf.length) {
        if (buf.length >= cap) break;
        const bigger = Buffer.allocUnsafe(Math.min(cap, buf.length * 2));
        buf.copy(bigger, 0, 0, used);
        buf = bigger;
      }
      const { bytesRead } = await fh.read(buf, used, buf.length - used, null);
      if (bytesRead === 0) break;
      used += bytesRead;
    }
    if (used > maxBytes) throw new ReadLimitError(file, maxBytes, null);
    return buf.subarray(0, used);
  } finally {
    await fh.close();
  }
}

/**
 * readStreamBounded collects an async-iterable body (an HTTP response or request) of at most
 * `maxBytes`, checking a declared Content-Length first. Throws ReadLimitError past the limit after
 * destroying the stream (when it can be), so the rest is never read.
 */
export async function readStreamBounded(body: AsyncIterable<Uint8Array> & { destroy?: (err?: Error) => void }, maxBytes: number, what: string, declaredLength?: string | string[] | undefined): Promise<Buffer> {
  const declared = typeof declaredLength === 'string' ? Number(declaredLength) : NaN;
  const cut = (size: number | null): never => {
    const err = new ReadLimitError(what, maxBytes, size);
    if (typeof body.destroy === 'function') {
      (body as { on?: (e: string, f: () => void) => void }).on?.('error', () => undefined);
      body.destroy();
    }
    throw err;
  };
  if (declared > maxBytes) cut(declared);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of body) {
    size += c.length;
    if (size > maxBytes) cut(null);
    chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c));
  }
  return Buffer.concat(chunks, size);
}

/**
 * safeJsonError is a JSON.parse failure as a message that never quotes the input: V8's messages
 * include the offending text (`Unexpected token 'r', "root:x:0:0"... is not valid JSON`), which
 * would echo a file that is not a bundle (a swapped symlink to /etc/passwd) into logs and /config.
 * Only the position is kept.
 */
export function safeJsonError(err: unknown): string {
  const msg = err instanceof Error ? err.message : '';
  const pos = /position (\d+)/.exec(msg);
  if (/Unexpected end of JSON input/.test(msg)) return 'unexpected end of JSON input';
  return pos ? `syntax error at byte offset ${pos[1]}` : 'syntax error';
}
