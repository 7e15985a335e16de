import { PoolOverflowError, WeftError } from '../../errors.js';
import { endpointKey } from '../../policy/endpoint-key.js';
import type { ProxyContext } from '../context.js';
import { errorReply, missingFact, type Step } from '../pipeline.js';
import { onReplyDone } from '../reply-done.js';

/**
 * connectionPool (outbound, after the endpoint step, once per attempt) holds a slot of the
 * endpoint's pool (maxConnections in flight, maxPendingRequests waiting) until the response body
 * ends. Overflow: 503 at once with `weft-reason: pool-overflow`, not retried and not held against
 * the endpoint by outlier detection. Without a connectionPool it only counts in-flight requests
 * (LeastRequest reads them).
 */
export function connectionPool(ctx: ProxyContext): Step {
  const rt = ctx.policies;
  return {
    name: 'connection-pool',
    needs: ['endpoint', 'attempt-deadline'],
    provides: ['pool-slot'],
    direction: 'outbound',
    wrap: (next) => async (ex) => {
      const svc = ex.backendService ?? missingFact('connection-pool', 'backend');
      const ep = ex.endpoint ?? missingFact('connection-pool', 'endpoint');
      const key = endpointKey(ep);
      const limiter = rt.forRouter(ex.router).backend(svc).state.pools.limiter(key);
      const fast = limiter.tryAcquire();
      const got = fast !== null ? { ok: true as const, lease: fast } : await limiter.acquire(ex.attemptSignal);
      if (!got.ok) {
        if (got.reason === 'aborted') {
          // Gave up while queued: answer as forward.ts would for the same abort.
          const reason: unknown = ex.attemptAborted ?? ex.attemptSignal.reason;
          if (reason instanceof WeftError) return errorReply(reason, reason.code === 'WEFT_BACKEND_TIMEOUT');
          return errorReply(new WeftError('WEFT_CLIENT_GONE', 'the client went away', 499));
        }
        rt.metrics.poolOverflow.inc({ service: svc.id, endpoint: key });
        const reply = errorReply(new PoolOverflowError(key));
        reply.headers['weft-reason'] = 'pool-overflow';
        return reply;
      }
      let reply;
      try {
        reply = await next(ex);
      } catch (err) {
        got.lease.release();
        throw err;
      }
      onReplyDone(reply, () => got.lease.release());
      return reply;
    },
  };
}
