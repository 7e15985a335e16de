import { BadPathError } from '../../errors.js';
import type { ProxyContext } from '../context.js';
import { errorReply, type Step } from '../pipeline.js';
import { normalizePath } from '../../policy/path-normalizer.js';

/**
 * pathNormalization (inbound, first of the policy steps) replaces `ex.path` with its normalised
 * form (normalizePath), so authorization and rate limits match, and the app receives, the same
 * path; targets that cannot be normalised safely get 400 and are never forwarded. The query is
 * left as it is. How encoded slashes, `//` and `;parameters` are treated is the bundle's
 * MeshConfig spec.proxy.pathNormalization.
 */
export function pathNormalization(ctx: ProxyContext): Step {
  const rt = ctx.policies;
  return {
    name: 'path-normalization',
    needs: [],
    provides: ['normalized-path'],
    wrap: (next) => (ex) => {
      // The options of the bundle this request started with (MeshConfig spec.proxy.pathNormalization).
      const r = normalizePath(ex.path, ex.router.mesh.proxy?.pathNormalization);
      if (!r.ok) {
        rt.metrics.badPath.inc({ reason: r.reason });
        const reply = errorReply(new BadPathError(r.reason, r.detail));
        reply.headers['weft-reason'] = 'bad-path';
        return Promise.resolve(reply);
      }
      if (r.changed) ex.path = r.path;
      return next(ex);
    },
  };
}
