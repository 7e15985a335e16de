import type { Headers } from './headers.js';

/** HOP_BY_HOP are the headers that describe one connection, never forwarded (RFC 9110 §7.6.1). */
export const HOP_BY_HOP: readonly string[] = ['connection', 'keep-alive', 'te', 'transfer-encoding', 'upgrade', 'proxy-connection', 'proxy-authorization', 'proxy-authenticate', 'trailer'];

/** HOP_SET: the same names, for a single lookup per header while copying. */
const HOP_SET: ReadonlySet<string> = new Set(HOP_BY_HOP);

function connectionTokens(conn: string | string[] | undefined): Set<string> | null {
  if (conn === undefined) return null;
  const out = new Set<string>();
  for (const v of typeof conn === 'string' ? [conn] : conn) {
    for (const token of v.split(',')) {
      const name = token.trim().toLowerCase();
      if (name !== '') out.add(name);
    }
  }
  return out;
}

/**
 * withoutHopByHop returns `headers` without the hop-by-hop headers and every header named in
 * Connection: the same object when there is nothing to remove, else a filtered copy (copying is
 * cheaper than `delete`, which turns V8 objects into slow dictionaries).
 */
export function withoutHopByHop(headers: Headers): Headers {
  let found = false;
  for (const k in headers) {
    if (HOP_SET.has(k)) {
      found = true;
      break;
    }
  }
  if (!found) return headers;
  const named = connectionTokens(headers['connection']);
  const out: Headers = {};
  for (const k in headers) {
    if (HOP_SET.has(k) || (named !== null && named.has(k))) continue;
    out[k] = headers[k]!;
  }
  return out;
}
