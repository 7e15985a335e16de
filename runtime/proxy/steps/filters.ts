import type { Filter } from '../../../schemas/bundle.js';
import { WeftError } from '../../errors.js';
import type { ProxyContext } from '../context.js';
import { applyHeaderModifier } from '../../policy/header-modifier.js';
import { decideFilter } from '../../policy/request-filters.js';
import { injectFault } from '../filters/fault.js';
import { sendMirror } from '../filters/mirror.js';
import type { ResponseEdits } from '../filters/filter.js';
import { errorReply, localReply, type Exchange, type Handler, type Reply, type Step } from '../pipeline.js';

/**
 * Filters run in the order written (Gateway API), which is why one step walks the list. What a
 * filter means is decided once, in FILTERS (runtime/policy/request-filters.ts), which `weft test`
 * uses too; this file only carries the effects out: a redirect or fault abort answers at once,
 * a mirror is sent, a ResponseHeaderModifier registers an edit applied to whatever reply comes
 * back.
 */


/** runFilters applies `filters` in order; returns a reply when one answered. */
export async function runFilters(ctx: ProxyContext, ex: Exchange, filters: readonly Filter[], edits: ResponseEdits): Promise<Reply | null> {
  for (const f of filters) {
    const effect = decideFilter(ex, f, ctx.random);
    if (effect === null) return errorReply(new WeftError('WEFT_UNSUPPORTED_FILTER', `filter type ${f.type} is not supported by this proxy`, 500));
    switch (effect.kind) {
      case 'continue':
        break;
      case 'response-headers':
        edits.push((r) => applyHeaderModifier(r.headers, effect.modifier));
        break;
      case 'redirect':
        return { ...localReply(effect.status, ''), headers: { location: effect.location, 'content-length': '0' } };
      case 'mirror':
        sendMirror(ctx, ex, effect.mirror);
        break;
      case 'fault': {
        const r = injectFault(ctx, ex, effect);
        const reply = r instanceof Promise ? await r : r;
        if (reply) return reply;
        break;
      }
    }
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
    idle: (p) => p.rule !== null && p.rule.filters.length === 0,
    wrap: (next) => (ex) => {
      const list = ex.rule?.filters;
      if (!list || list.length === 0) return next(ex);
      return withFilters(ctx, ex, list, next);
    },
  };
}

/** withFilters runs `filters`, then `next` unless a filter answered, and applies the response edits. */
export async function withFilters(ctx: ProxyContext, ex: Exchange, filters: readonly Filter[], next: Handler): Promise<Reply> {
  const edits: ResponseEdits = [];
  const answered = await runFilters(ctx, ex, filters, edits);
  return applyEdits(answered ?? (await next(ex)), edits);
}
