import type { Rewrite } from '../../../schemas/bundle.js';
import { modifyPath } from '../../policy/path-modifier.js';
import type { Exchange } from '../pipeline.js';

/** applyRewrite applies a URLRewrite filter: the Host sent upstream and/or the path; the query is kept. */
export function applyRewrite(ex: Exchange, r: Rewrite): void {
  if (r.hostname !== null) ex.authority = r.hostname;
  if (r.path !== null) ex.path = modifyPath(ex.path, r.path);
}
