/**
 * hash32 is a fast, well-mixed 32-bit string hash (FNV-1a over UTF-16 code units, then the
 * murmur3 finaliser). FNV-1a alone clusters similar strings ("ep#1", "ep#2"), which would bunch
 * virtual nodes on a hash ring; the finaliser spreads them. Stable across processes and
 * machines, so every proxy places keys identically. Not cryptographic.
 */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
