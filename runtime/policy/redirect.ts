import type { Redirect } from '../../schemas/bundle.js';
import { splitHostPort } from '../router/index.js';
import { modifyPath } from './path-modifier.js';
import type { RequestLine } from './request-line.js';

/**
 * redirectLocation is the Location a RequestRedirect filter answers with. The original scheme is
 * http (the listeners are plain HTTP). Port: the filter's, else the scheme's well-known port when
 * the filter sets a scheme, else the port the client named in Host. `:80` for http and `:443`
 * for https are never written. The query is kept.
 */
export function redirectLocation(req: Readonly<Omit<RequestLine, 'headers'>>, r: Redirect): string {
  const scheme = r.scheme ?? 'http';
  const original = splitHostPort(req.authority);
  const hostname = r.hostname ?? original?.name ?? req.authority;
  const port = r.port ?? (r.scheme !== null ? (scheme === 'https' ? 443 : 80) : (original?.port ?? null));
  const portPart = port === null || (scheme === 'http' && port === 80) || (scheme === 'https' && port === 443) ? '' : `:${port}`;
  const path = r.path ? modifyPath(req.path, r.path) : req.path;
  return `${scheme}://${hostname}${portPart}${path}${req.query === '' ? '' : `?${req.query}`}`;
}
