import type { Headers, Step } from './pipeline.js';

/** HOP_BY_HOP are the headers that describe one connection, never forwarded (RFC 9110 §7.6.1). */
export const HOP_BY_HOP: readonly string[] = ['connection', 'keep-alive', 'te', 'transfer-encoding', 'upgrade', 'proxy-connection', 'proxy-authorization', 'proxy-authenticate', 'trailer'];

/** stripHopByHop removes the hop-by-hop headers and every header named in Connection, in place. */
export function stripHopByHop(headers: Headers): void {
  const conn = headers['connection'];
  if (conn !== undefined) {
    for (const v of typeof conn === 'string' ? [conn] : conn) {
      for (const token of v.split(',')) {
        const name = token.trim().toLowerCase();
        if (name !== '') delete headers[name];
      }
    }
  }
  for (const h of HOP_BY_HOP) if (headers[h] !== undefined) delete headers[h];
}

/** hopByHop strips hop-by-hop headers from the request on the way in and from the reply on the way out. */
export function hopByHop(): Step {
  return {
    name: 'hop-by-hop',
    wrap: (next) => async (ex) => {
      stripHopByHop(ex.headers);
      const reply = await next(ex);
      if (reply.origin === 'upstream') stripHopByHop(reply.headers);
      return reply;
    },
  };
}
