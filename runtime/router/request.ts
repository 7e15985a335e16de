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

/** headerValue is the value a header match compares: repeated headers joined with ", ". */
export function headerValue(headers: RouteRequest['headers'], name: string): string | undefined {
  const v = headers[name];
  if (v === undefined) return undefined;
  return typeof v === 'string' ? v : v.join(', ');
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
