/** emit: placeholder until the emit pass lands (being written now). */
import type { LoweredTree, PassContext } from './types.js';
import type { Bundle } from '../schemas/bundle.js';

export function emit(_input: LoweredTree, _ctx: PassContext): { bundle: Bundle; json: string } {
  throw new Error('the emit pass is being written');
}
