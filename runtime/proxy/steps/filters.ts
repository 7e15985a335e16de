import type { Filter } from '../../../schemas/bundle.js';
import { WeftError } from '../../errors.js';
import type { ProxyContext } from '../context.js';
import { applyHeaderModifier } from '../../policy/header-modifier.js';
import { sendMirror } from '../filters/mirror.js';
import { errorReply, type Exchange, type Reply, type Step } from '../pipeline.js';
import { redirectReply } from '../filters/redirect.js';
import { applyRewrite } from '../filters/rewrite.js';
import { faultFilter } from '../filters/fault.js';
import type { FilterImpl, ResponseEdits } from '../filters/filter.js';

/**
 * Filters run in the order written (Gateway API), which is why one step walks the list and each
 * filter type is a small function in its own file rather than its own step. A filter returns a
 * Reply to answer at once (redirect, fault abort) or null to go on; ResponseHeaderModifier
 * registers an edit applied to whatever reply comes back.
 */

/**
 * FILTERS: one line per filter type. A type missing here is never skipped: the request gets 500
 * (Gateway API: an unsupported filter must not be silently ignored). The policy issue registers
 * `Fault` here.
 */
export const FILTERS: Partial<Record<Filter['type'], FilterImpl>> = {
  RequestHeaderModifier: (_c, ex, f) => (f.type === 'RequestHeaderModifier' && applyHeaderModifier(ex.headers, f.modifier), null),
  ResponseHeaderModifier: (_c, _ex, f, edits) => (f.type === 'ResponseHeaderModifier' && edits.push((r) => applyHeaderModifier(r.headers, f.modifier)), null),
  RequestRedirect: (_c, ex, f) => (f.type === 'RequestRedirect' ? redirectReply(ex, f.redirect) : null),
  URLRewrite: (_c, ex, f) => (f.type === 'URLRewrite' && applyRewrite(ex, f.rewrite), null),
  RequestMirror: (c, ex, f) => (f.type === 'RequestMirror' && sendMirror(c, ex, f.mirror), null),
  Fault: faultFilter,
};

/** runFilters applies `filters` in order; returns a reply when one answered. */
export async function runFilters(ctx: ProxyContext, ex: Exchange, filters: readonly Filter[], edits: ResponseEdits): Promise<Reply | null> {
  for (const f of filters) {
    const impl = FILTERS[f.type];
    if (!impl) return errorReply(new WeftError('WEFT_UNSUPPORTED_FILTER', `filter type ${f.type} is not supported by this proxy`, 500));
    const r = impl(ctx, ex, f, edits);
    const reply = r instanceof Promise ? await r : r;
    if (reply) return reply;
  }
  return null;
}

/** applyEdits applies response edits to a reply. */
export function applyEdits(reply: Reply, edits: ResponseEdits): Reply {
  for (const e of edits) e(reply);
  return reply;
}

/** filters runs the rule's filters (outbound). Per-backend filters run in backend.ts. */
export function filters(ctx: ProxyContext): Step {
  return {
    name: 'filters',
    needs: ['route'],
    provides: [],
    direction: 'outbound',
    wrap: (next) => async (ex) => {
      const list = ex.rule?.filters;
      if (!list || list.length === 0) return next(ex);
      const edits: ResponseEdits = [];
      const answered = await runFilters(ctx, ex, list, edits);
      return applyEdits(answered ?? (await next(ex)), edits);
    },
  };
}
