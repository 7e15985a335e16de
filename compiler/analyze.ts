/** analyze: placeholder until the analyze pass lands (being written now). */
import type { PassContext } from './types.js';
import type { ResolvedTree } from './resolve.js';

export function analyze(_input: ResolvedTree, _ctx: PassContext): ResolvedTree {
  throw new Error('the analyze pass is being written');
}
