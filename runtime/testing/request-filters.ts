/**
 * The proxy's request filters (runtime/policy/header-modifier.ts, runtime/proxy/filters/rewrite.ts, redirect.ts) applied
 * to a simulated request. No filter logic lives here: these adapters copy the request, hand it to
 * the proxy's own function, and read the result back, so `weft test` / `weft explain` can never
 * drift from what the proxy does to a request.
 */
import type { HeaderModifier, Redirect, Rewrite } from '../../schemas/bundle.js';
import { applyHeaderModifier as proxyHeaderModifier } from '../policy/header-modifier.js';
import { applyRewrite as proxyRewrite } from '../proxy/filters/rewrite.js';
import { redirectReply } from '../proxy/filters/redirect.js';
import type { Exchange, Headers } from '../proxy/pipeline.js';

/** FilterRequest is the request as filters see and change it. Header names are lower-case. */
export interface FilterRequest {
  /** Host header value, with the port when the client gave one. */
  authority: string;
  /** Path without the query. */
  path: string;
  /** Query without `?`; '' when none. Filters never change it. */
  query: string;
  /** Lower-case names; a value list keeps repeated headers apart. */
  headers: Headers;
}

/**
 * The proxy's URLRewrite and RequestRedirect functions take an Exchange but read and write only
 * its request line fields (authority, path, query); a simulated request provides exactly those.
 */
function asExchange(req: Pick<FilterRequest, 'authority' | 'path' | 'query'>): Exchange {
  return req as unknown as Exchange;
}

function copyHeaders(h: Headers): Headers {
  const out: Headers = {};
  for (const [k, v] of Object.entries(h)) out[k] = typeof v === 'string' ? v : [...v];
  return out;
}

/** applyHeaderModifier returns the headers after the proxy's RequestHeaderModifier; the input is not changed. */
export function applyHeaderModifier(headers: Headers, m: HeaderModifier): Headers {
  const out = copyHeaders(headers);
  proxyHeaderModifier(out, m);
  return out;
}

/** applyRewrite returns the request after the proxy's URLRewrite; the input is not changed. */
export function applyRewrite(req: FilterRequest, r: Rewrite): FilterRequest {
  const line = { authority: req.authority, path: req.path, query: req.query };
  proxyRewrite(asExchange(line), r);
  return { ...req, authority: line.authority, path: line.path };
}

/** redirectLocation is the Location header of the proxy's redirect reply. */
export function redirectLocation(req: FilterRequest, r: Redirect): string {
  const reply = redirectReply(asExchange({ authority: req.authority, path: req.path, query: req.query }), r);
  const location = reply.headers.location;
  return typeof location === 'string' ? location : (location?.[0] ?? '');
}
