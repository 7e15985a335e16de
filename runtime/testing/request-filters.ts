/**
 * Request filters as pure functions of a request: what RequestHeaderModifier, URLRewrite and
 * RequestRedirect do to the request the backend receives (or to the Location of a redirect).
 * Gateway API semantics (shared/gateway-api.md §4).
 */
import type { HeaderModifier, PathModifier, Redirect, Rewrite } from '../../schemas/bundle.js';

/** FilterRequest is the request as filters see and change it. Header names are lower-case. */
export interface FilterRequest {
  scheme: 'http' | 'https';
  /** Host header value, with the port when the client gave one. */
  authority: string;
  /** Path without the query. */
  path: string;
  /** Query without `?`; '' when none. Filters never change it. */
  query: string;
  /** Lower-case names; a value list keeps repeated headers apart. */
  headers: Record<string, string[]>;
}

/**
 * applyHeaderModifier applies one modifier in the spec's order: `set` overwrites, `add` appends
 * (the values are comma-joined when read as one, as the spec's example shows), `remove` deletes.
 * Names are case-insensitive. Returns a new header record; the input is not changed.
 */
export function applyHeaderModifier(headers: Readonly<Record<string, string[]>>, m: HeaderModifier): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(headers)) out[k] = [...v];
  for (const s of m.set) out[s.name.toLowerCase()] = [s.value];
  for (const a of m.add) {
    const k = a.name.toLowerCase();
    out[k] = [...(out[k] ?? []), a.value];
  }
  for (const r of m.remove) delete out[r.toLowerCase()];
  return out;
}

/**
 * modifyPath applies a path modifier. ReplacePrefixMatch replaces the matched prefix element-wise:
 * `/foo/bar` with prefix `/foo` and replacement `/xyz` is `/xyz/bar`, `/foo/` gives `/xyz/`; an
 * empty or `/` replacement gives `/bar`; the whole path `/foo` with replacement `/` is `/`.
 */
export function modifyPath(path: string, m: PathModifier): string {
  if (m.type === 'ReplaceFullPath') return m.value;
  const prefix = m.prefix === '/' ? '' : m.prefix;
  // The router only chose this rule when the prefix matched on a segment boundary.
  const rest = path.startsWith(prefix) ? path.slice(prefix.length) : path;
  const base = m.value.endsWith('/') ? m.value.slice(0, -1) : m.value;
  const joined = base + rest;
  return joined === '' ? '/' : joined.startsWith('/') ? joined : `/${joined}`;
}

/** applyRewrite applies URLRewrite: hostname replaces the Host (port kept off), path modified; query kept. */
export function applyRewrite(req: FilterRequest, r: Rewrite): FilterRequest {
  return {
    ...req,
    authority: r.hostname ?? req.authority,
    path: r.path ? modifyPath(req.path, r.path) : req.path,
  };
}

function splitAuthority(authority: string): { host: string; port: number | null } {
  const m = /^(.*?)(?::(\d+))?$/.exec(authority);
  const host = m?.[1] ?? authority;
  return { host, port: m?.[2] ? Number(m[2]) : null };
}

/**
 * redirectLocation computes the Location of a RequestRedirect. Scheme, hostname and path default
 * to the request's; the port is the filter's, else the scheme's well-known port when the filter
 * sets a scheme, else the port the client wrote in its Host. Well-known ports (http 80,
 * https 443) are never written. The query is kept.
 */
export function redirectLocation(req: FilterRequest, r: Redirect): string {
  const scheme = r.scheme ?? req.scheme;
  const { host, port: requestPort } = splitAuthority(req.authority);
  const hostname = r.hostname ?? host;
  const port = r.port ?? (r.scheme ? null : requestPort);
  const wellKnown = (scheme === 'http' && port === 80) || (scheme === 'https' && port === 443);
  const path = r.path ? modifyPath(req.path, r.path) : req.path;
  return `${scheme}://${hostname}${port === null || wellKnown ? '' : `:${port}`}${path}${req.query ? `?${req.query}` : ''}`;
}
