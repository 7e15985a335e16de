import type { Filter, HeaderModifier, Mirror } from '../../schemas/bundle.js';
import { decideFault } from './fault.js';
import { applyHeaderModifier } from './header-modifier.js';
import type { RandomSource } from './random.js';
import { redirectLocation } from './redirect.js';
import type { RequestLine } from './request-line.js';
import { applyRewrite } from './rewrite.js';

/**
 * FilterEffect is what one HTTPRoute filter decided for one request, besides the edits it made
 * to the RequestLine in place: go on, answer with a redirect, edit the response, send a mirror
 * copy, or inject a fault (wait `delayMs`, then answer `abortStatus` or go on). The proxy
 * (runtime/proxy/steps/filters.ts) carries effects out; `weft test` (runtime/testing/simulate.ts)
 * reports them. Neither decides anything itself.
 */
export type FilterEffect =
  | { readonly kind: 'continue' }
  | { readonly kind: 'redirect'; readonly status: number; readonly location: string }
  | { readonly kind: 'response-headers'; readonly modifier: HeaderModifier }
  | { readonly kind: 'mirror'; readonly mirror: Mirror }
  | { readonly kind: 'fault'; readonly name: string; readonly delayMs: number; readonly abortStatus: number | null };

/** FilterDecision applies one filter of type T to a request line (in place) and says what else to do. */
export type FilterDecision<F extends Filter> = (req: RequestLine, filter: F, random: RandomSource) => FilterEffect;

const CONTINUE: FilterEffect = Object.freeze({ kind: 'continue' });

/**
 * FILTERS: one line per filter type, the only place a filter's meaning is written (Gateway API
 * semantics; `Fault` is Weft's ExtensionRef). The mapped type makes a bundle filter type without
 * an entry a compile error; a type unknown at run time (a newer bundle) gets null from
 * decideFilter, and the proxy answers 500 rather than skip it (Gateway API).
 */
export const FILTERS: { readonly [T in Filter['type']]: FilterDecision<Extract<Filter, { type: T }>> } = {
  RequestHeaderModifier: (req, f) => (applyHeaderModifier(req.headers, f.modifier), CONTINUE),
  ResponseHeaderModifier: (_req, f) => ({ kind: 'response-headers', modifier: f.modifier }),
  RequestRedirect: (req, f) => ({ kind: 'redirect', status: f.redirect.statusCode, location: redirectLocation(req, f.redirect) }),
  URLRewrite: (req, f) => (applyRewrite(req, f.rewrite), CONTINUE),
  RequestMirror: (_req, f) => ({ kind: 'mirror', mirror: f.mirror }),
  Fault: (_req, f, random) => {
    const d = decideFault(f.fault, random);
    return d.delayMs <= 0 && d.abortStatus === null ? CONTINUE : { kind: 'fault', name: f.name, delayMs: d.delayMs, abortStatus: d.abortStatus };
  },
};

/**
 * decideFilter applies `filter` through FILTERS: the request line is edited in place and the
 * effect returned; null when this build has no entry for the filter's type.
 */
export function decideFilter(req: RequestLine, filter: Filter, random: RandomSource): FilterEffect | null {
  // The mapped type pairs each key with its own filter shape; indexing by a union loses that pairing.
  const decide = (FILTERS as Readonly<Record<string, FilterDecision<Filter> | undefined>>)[filter.type];
  return decide === undefined ? null : decide(req, filter, random);
}
