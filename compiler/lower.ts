/** lower: placeholder until the lower pass lands (being written now). */
import type { LoweredTree, PassContext } from './types.js';
import type { ResolvedTree } from './resolve.js';

export function lower(_input: ResolvedTree, _ctx: PassContext): LoweredTree {
  throw new Error('the lower pass is being written');
}
