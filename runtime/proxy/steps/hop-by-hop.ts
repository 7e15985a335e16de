import { withoutHopByHop } from '../../policy/hop-by-hop.js';
import type { Step } from '../pipeline.js';

/** hopByHop strips hop-by-hop headers from the request on the way in and from the reply on the way out. */
export function hopByHop(): Step {
  return {
    name: 'hop-by-hop',
    needs: [],
    provides: ['hop-by-hop-removed'],
    wrap: (next) => async (ex) => {
      ex.headers = withoutHopByHop(ex.headers);
      const reply = await next(ex);
      if (reply.origin === 'upstream') reply.headers = withoutHopByHop(reply.headers);
      return reply;
    },
  };
}
