import { withoutHopByHop } from '../../policy/hop-by-hop.js';
import type { Reply, Step } from '../pipeline.js';

/** stripReply removes hop-by-hop headers from an upstream reply (a local one has none). */
function stripReply(reply: Reply): Reply {
  if (reply.origin === 'upstream') reply.headers = withoutHopByHop(reply.headers);
  return reply;
}

/**
 * hopByHop strips hop-by-hop headers from the request on the way in and from the reply on the
 * way out. (The listener's copy of the request headers already leaves them out, so the request
 * side is a scan that finds nothing; it stays here so the fact holds for any Exchange.)
 */
export function hopByHop(): Step {
  return {
    name: 'hop-by-hop',
    needs: [],
    provides: ['hop-by-hop-removed'],
    wrap: (next) => (ex) => {
      ex.headers = withoutHopByHop(ex.headers);
      return next(ex).then(stripReply);
    },
  };
}
