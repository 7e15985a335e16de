import { appendForwarded } from '../../policy/forwarded-headers.js';
import type { Step } from '../pipeline.js';

/**
 * forwardedHeaders maintains X-Forwarded-For, -Proto and -Host (appendForwarded: the client
 * address appended, the scheme and Host kept or filled in). `weft test` applies the same function.
 */
export function forwardedHeaders(): Step {
  return {
    name: 'forwarded-headers',
    needs: ['hop-by-hop-removed'],
    provides: ['forwarded-headers'],
    wrap: (next) => (ex) => {
      appendForwarded(ex.headers, ex.clientAddress, ex.authority);
      return next(ex);
    },
  };
}
