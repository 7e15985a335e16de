/** resolve: placeholder until the resolve pass lands (being written now). */
import type { PassContext, ValidatedTree } from './types.js';

export type ResolvedTree = ValidatedTree;

export function resolve(_input: ValidatedTree, _ctx: PassContext): ResolvedTree {
  throw new Error('the resolve pass is being written');
}
