import type { Rewrite } from '../../schemas/bundle.js';
import { modifyPath } from './path-modifier.js';
import type { RequestLine } from './request-line.js';

/** applyRewrite applies a URLRewrite filter in place: the Host sent upstream and/or the path; the query is kept. */
export function applyRewrite(req: Pick<RequestLine, 'authority' | 'path'>, r: Rewrite): void {
  if (r.hostname !== null) req.authority = r.hostname;
  if (r.path !== null) req.path = modifyPath(req.path, r.path);
}
