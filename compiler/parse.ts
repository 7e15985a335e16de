/** parse: placeholder until the parse pass lands (being written now). */
import type { LoadedTree, ParsedTree, PassContext } from './types.js';

export function parse(_input: LoadedTree, _ctx: PassContext): ParsedTree | Promise<ParsedTree> {
  throw new Error('the parse pass is being written');
}
