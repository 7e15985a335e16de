/** load: placeholder until the load pass lands (being written now). */
import type { CompileOptions, LoadedTree, PassContext } from './types.js';

export function load(_input: CompileOptions, _ctx: PassContext): LoadedTree | Promise<LoadedTree> {
  throw new Error('the load pass is being written');
}
