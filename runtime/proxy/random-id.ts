import { randomFillSync } from 'node:crypto';

let pool = Buffer.alloc(0);
let offset = 0;

/**
 * randomHex returns `bytes` random bytes as hex, cut from a pooled buffer refilled 4 KiB at a
 * time (one syscall per few hundred ids instead of one per request). For span and trace ids:
 * unpredictable enough, not for secrets.
 */
export function randomHex(bytes: number): string {
  if (offset + bytes > pool.length) {
    pool = randomFillSync(Buffer.alloc(4096));
    offset = 0;
  }
  const s = pool.toString('hex', offset, offset + bytes);
  offset += bytes;
  return s;
}
