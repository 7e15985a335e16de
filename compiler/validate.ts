/** validate: placeholder until the validate pass lands (being written now). */
import type { ParsedTree, ValidatedTree, PassContext } from './types.js';

export function validate(_input: ParsedTree, _ctx: PassContext): ValidatedTree | Promise<ValidatedTree> {
  throw new Error('the validate pass is being written');
}
