import type { Redirect } from '../../../schemas/bundle.js';
import { splitHostPort } from '../../router/index.js';
import { modifyPath } from '../../policy/path-modifier.js';
import { localReply, type Exchange, type Reply } from '../pipeline.js';

/**
 * redirectReply answers a RequestRedirect filter. The original scheme is http (the listeners are
 * plain HTTP). Port: the filter's, else the scheme's well-known port when the filter sets a
 * scheme, else the port the client named in Host. `:80` for http and `:443` for https are never
 * written. The query is kept.
 */
export function redirectReply(ex: Exchange, r: Redirect): Reply {
  const scheme = r.scheme ?? 'http';
  const original = splitHostPort(ex.authority);
  const hostname = r.hostname ?? original?.name ?? ex.authority;
  const port = r.port ?? (r.scheme !== null ? (scheme === 'https' ? 443 : 80) : (original?.port ?? null));
  const portPart = port === null || (scheme === 'http' && port === 80) || (scheme === 'https' && port === 443) ? '' : `:${port}`;
  const path = r.path ? modifyPath(ex.path, r.path) : ex.path;
  const location = `${scheme}://${hostname}${portPart}${path}${ex.query === '' ? '' : `?${ex.query}`}`;
  return { ...localReply(r.statusCode, ''), headers: { location, 'content-length': '0' } };
}
