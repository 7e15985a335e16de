import { withoutHopByHop } from '../../policy/hop-by-hop.js';
import type { Step } from '../pipeline.js';

/**
 * hopByHop strips hop-by-hop headers (and those named in Connection) from the request on the way
 * in. (The listener's copy of the request headers already leaves them out, so this is a scan that
 * finds nothing and returns the same object; it stays here so the fact holds for any Exchange.)
 * An upstream reply's hop-by-hop headers describe the upstream connection: the listener leaves
 * them out when it writes the reply on the client's connection (listener.ts: clientHeaders), so
 * this step adds no promise reaction per request for them.
 */
export function hopByHop(): Step {
  return {
    name: 'hop-by-hop',
    needs: [],
    provides: ['hop-by-hop-removed'],
    wrap: (next) => (ex) => {
      ex.headers = withoutHopByHop(ex.headers);
      return next(ex);
    },
  };
}
