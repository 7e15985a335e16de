import type { Headers } from './headers.js';

/** HOP_BY_HOP are the headers that describe one connection, never forwarded (RFC 9110 §7.6.1). */
export const HOP_BY_HOP: readonly string[] = ['connection', 'keep-alive', 'te', 'transfer-encoding', 'upgrade', 'proxy-connection', 'proxy-authorization', 'proxy-authenticate', 'trailer'];

/** HOP_SET: the same names, for a single lookup per header while copying. */
const HOP_SET: ReadonlySet<string> = new Set(HOP_BY_HOP);

/**
 * connectionNamed: the header names listed in Connection, lower-cased (an array: there are one or
 * two in practice, `keep-alive` or `close`), or null without a Connection header.
 */
function connectionNamed(conn: string | string[] | undefined): string[] | null {
  if (conn === undefined) return null;
  // The two usual values, compared before any trim or lower-casing.
  if (conn === 'keep-alive' || conn === 'close') return null;
  // The common single token (`keep-alive`, `close`, `upgrade`) names nothing left to remove.
  if (typeof conn === 'string' && !conn.includes(',')) {
    const only = conn.trim().toLowerCase();
    return only === 'close' || HOP_SET.has(only) ? null : [only];
  }
  const out: string[] = [];
  for (const v of typeof conn === 'string' ? [conn] : conn) {
    for (const token of v.split(',')) {
      const name = token.trim().toLowerCase();
      if (name !== '') out.push(name);
    }
  }
  return out;
}

/**
 * withoutHopByHop returns `headers` without the hop-by-hop headers and every header named in
 * Connection: the same object when there is nothing to remove, else a filtered copy (copying is
 * cheaper than `delete`, which turns V8 objects into slow dictionaries). With `drop`, the copy is
 * always made and also leaves out the names `drop` accepts (the listener's one copy of a
 * request's headers: without `host`, `expect` and HTTP/2 pseudo-headers).
 */
export function withoutHopByHop(headers: Readonly<Record<string, string | string[] | undefined>>, drop?: (name: string) => boolean): Headers {
  if (drop === undefined) {
    let found = false;
    for (const k in headers) {
      if (HOP_SET.has(k)) {
        found = true;
        break;
      }
    }
    if (!found) return headers as Headers;
  }
  const named = connectionNamed(headers['connection']);
  const out: Headers = {};
  for (const k in headers) {
    const v = headers[k];
    if (v === undefined || HOP_SET.has(k) || (named !== null && named.includes(k)) || (drop !== undefined && drop(k))) continue;
    out[k] = v;
  }
  return out;
}
