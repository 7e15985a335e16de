/**
 * The request as the router sees it: only what matching needs, so `weft test` / `weft explain`
 * can build one from a RouteTest case and the proxy from an IncomingMessage.
 */

/** RouteRequest is the matchable part of a request. Header names are lower-case. */
export interface RouteRequest {
  /** Upper-case method. */
  readonly method: string;
  /** Path without the query string, as received (not decoded). */
  readonly path: string;
  /** Raw query string without the leading `?`; '' when absent. */
  readonly query: string;
  /** Lower-case names; a repeated header may be an array (its values joined with ", " for matching). */
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  /**
   * The request's authority (the Host header, or an absolute-form target's authority, which
   * replaces it: RFC 9112 §3.2.2), as the client sent it, port included. Proxies carry it apart
   * from `headers`; a header match on `Host` compares it.
   */
  readonly authority?: string;
}

/**
 * splitTarget splits a request target into path and query. An absolute-form target
 * (`http://host/path?q`) yields its path and its authority, so absolute-form and origin-form
 * requests route identically.
 */
export function splitTarget(target: string): { path: string; query: string; authority: string | null } {
  let authority: string | null = null;
  let rest = target;
  const scheme = target.charCodeAt(0) === 47 /* / */ ? null : /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.exec(target);
  if (scheme) {
    const afterScheme = target.slice(scheme[0].length);
    const slash = afterScheme.search(/[/?#]/);
    authority = slash === -1 ? afterScheme : afterScheme.slice(0, slash);
    rest = slash === -1 ? '/' : afterScheme.slice(slash);
    if (rest.startsWith('?')) rest = '/' + rest;
  }
  const hash = rest.indexOf('#');
  if (hash !== -1) rest = rest.slice(0, hash);
  const q = rest.indexOf('?');
  if (q === -1) return { path: rest || '/', query: '', authority };
  return { path: rest.slice(0, q) || '/', query: rest.slice(q + 1), authority };
}

/**
 * fieldSeparator is how repeated values of header `name` (lower-case) are joined into one: `; `
 * for Cookie (RFC 6265 §5.4; HTTP/2 sends each cookie as its own field, RFC 9113 §8.2.3), `, `
 * for every other list header (RFC 9110 §5.3). Set-Cookie must never be joined (RFC 6265 §3):
 * code that writes headers keeps its values apart.
 */
export function fieldSeparator(name: string): string {
  return name === 'cookie' ? '; ' : ', ';
}

/**
 * requestHeader is the value a header match on `name` compares: `host` is the request's
 * authority (so `matches: [{headers: [{name: Host, ...}]}]` sees what the client asked for, on
 * the proxy, in weft test and in weft explain alike); any other name is headerValue.
 */
export function requestHeader(req: RouteRequest, name: string): string | undefined {
  if (name === 'host' && req.authority !== undefined) return req.authority;
  return headerValue(req.headers, name);
}

/** headerValue is the value a header match compares: repeated headers joined by fieldSeparator. */
export function headerValue(headers: RouteRequest['headers'], name: string): string | undefined {
  const v = headers[name];
  if (v === undefined) return undefined;
  return typeof v === 'string' ? v : v.join(fieldSeparator(name));
}

/**
 * parseQuery returns the FIRST value of each parameter (Gateway API recommends the first when a
 * parameter repeats). `+` is a space and percent-escapes are decoded; a malformed escape keeps the
 * raw text rather than failing the request.
 */
export function parseQuery(query: string): Map<string, string> {
  const out = new Map<string, string>();
  if (query === '') return out;
  for (const part of query.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = decode(eq === -1 ? part : part.slice(0, eq));
    if (out.has(name)) continue;
    out.set(name, eq === -1 ? '' : decode(part.slice(eq + 1)));
  }
  return out;
}

function decode(s: string): string {
  const plus = s.includes('+') ? s.replace(/\+/g, ' ') : s;
  if (!plus.includes('%')) return plus;
  try {
    return decodeURIComponent(plus);
  } catch {
    return plus;
  }
}
