import { PoolOverflowError, WeftError } from '../../errors.js';
import { endpointKey } from '../../policy/endpoint-key.js';
import type { ProxyContext } from '../context.js';
import { errorReply, missingFact, type Exchange, type Handler, type Reply, type Step } from '../pipeline.js';
import type { EndpointLimiter, Lease } from '../../policy/connection-pool.js';
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
    wrap: (next) => (ex) => {
      const svc = ex.backendService ?? missingFact('connection-pool', 'backend');
      const ep = ex.endpoint ?? missingFact('connection-pool', 'endpoint');
      const key = endpointKey(ep);
      const limiter = rt.forRouter(ex.router).backend(svc).state.pools.limiter(key);
      const fast = limiter.tryAcquire();
      if (fast !== null) return held(ex, next, fast);
      return queued(ctx, ex, next, limiter, svc.id, key);
    },
  };
}

/** held runs the attempt holding `lease`, released when the reply's body ends (or at once on a throw). */
function held(ex: Exchange, next: Handler, lease: Lease): Promise<Reply> {
  let answer: Promise<Reply>;
  try {
    answer = next(ex);
  } catch (err) {
    lease.release();
    throw err;
  }
  return answer.then(
    (reply) => {
      onReplyDone(reply, lease.release);
      return reply;
    },
    (err: unknown) => {
      lease.release();
      throw err;
    },
  );
}

/** queued waits for a slot in the bounded queue (or answers overflow / the abort), then runs the attempt. */
async function queued(ctx: ProxyContext, ex: Exchange, next: Handler, limiter: EndpointLimiter, service: string, key: string): Promise<Reply> {
  const rt = ctx.policies;
  const got = await limiter.acquire(ex.attemptSignal);
  if (!got.ok) {
    if (got.reason === 'aborted') {
      // Gave up while queued: answer as forward.ts would for the same abort.
      const reason: unknown = ex.attemptAborted ?? ex.attemptSignal.reason;
      if (reason instanceof WeftError) return errorReply(reason, reason.code === 'WEFT_BACKEND_TIMEOUT');
      return errorReply(new WeftError('WEFT_CLIENT_GONE', 'the client went away', 499));
    }
    rt.metrics.poolOverflow.inc({ service, endpoint: key });
    const reply = errorReply(new PoolOverflowError(key));
    reply.headers['weft-reason'] = 'pool-overflow';
    return reply;
  }
  return held(ex, next, got.lease);
}
