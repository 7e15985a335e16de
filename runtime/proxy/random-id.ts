import { randomFillSync } from 'node:crypto';

/** POOL_BYTES random bytes are drawn at a time and kept as hex. */
const POOL_BYTES = 4096;

let hex = '';
let offset = 0;

/**
 * randomHex returns `bytes` random bytes as hex (2 × `bytes` characters), cut from a pool of
 * random bytes drawn 4 KiB at a time (one syscall per few hundred ids instead of one per request)
 * and converted to hex once per draw, so an id is a substring, not a Buffer.toString per request.
 * For span and trace ids: unpredictable enough, not for secrets. Each character is used once.
 */
export function randomHex(bytes: number): string {
  const n = bytes * 2;
  if (offset + n > hex.length) {
    hex = randomFillSync(Buffer.allocUnsafe(Math.max(POOL_BYTES, bytes))).toString('hex');
    offset = 0;
  }
  const s = hex.slice(offset, offset + n);
  offset += n;
  return s;
}
