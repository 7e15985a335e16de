import type { Filter } from '../../../schemas/bundle.js';
import type { ProxyContext } from '../context.js';
import type { Exchange, Reply } from '../pipeline.js';

/** ResponseEdits collects edits to apply to the reply, in filter order. */
export type ResponseEdits = ((reply: Reply) => void)[];

/**
 * FilterImpl applies one HTTPRoute filter to an exchange: returns a Reply to answer at once
 * (redirect, fault abort) or null to go on; may be async (fault delay).
 */
export type FilterImpl = (ctx: ProxyContext, ex: Exchange, filter: Filter, edits: ResponseEdits) => Reply | null | Promise<Reply | null>;
