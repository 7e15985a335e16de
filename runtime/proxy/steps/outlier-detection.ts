import type { ProxyContext } from '../context.js';
import { endpointKey } from '../../policy/endpoint-key.js';
import { missingFact, type Exchange, type Handler, type Reply, type Step } from '../pipeline.js';

/**
 * outlierDetection (outbound, after the connection-pool step, once per attempt) reports each
 * attempt's result to the backend's outlier detector: an upstream 5xx or a failure before any
 * response (refused, reset, attempt timeout) is an error, any other upstream answer a success.
 * Answers the proxy made itself for other reasons are not the endpoint's fault and are ignored.
 */
export function outlierDetection(ctx: ProxyContext): Step {
  const rt = ctx.policies;
  return {
    name: 'outlier-detection',
    needs: ['endpoint', 'backend'],
    provides: [],
    direction: 'outbound',
    // Idle when none of the rule's backends has outlier detection (the backend is chosen per request).
    idle: (p) => p.rule !== null && p.rule.backends.every((b) => (p.router.services.get(b.service)?.entry.backendPolicy.outlierDetection ?? null) === null),
    wrap: (next) => (ex) => {
      const svc = ex.backendService ?? missingFact('outlier-detection', 'backend');
      if (svc.backendPolicy.outlierDetection === null) return next(ex);
      const ep = ex.endpoint ?? missingFact('outlier-detection', 'endpoint');
      const detector = rt.forRouter(ex.router).backend(svc).state.outlier;
      if (detector === null) return next(ex);
      return recorded(ex, next, detector, endpointKey(ep));
    },
  };
}

/** recorded runs the attempt and reports its result to the outlier detector. */
async function recorded(ex: Exchange, next: Handler, detector: { record(key: string, ok: boolean): void }, key: string): Promise<Reply> {
      let reply: Reply;
      try {
        reply = await next(ex);
      } catch (err) {
        if (ex.aborted === null) detector.record(key, false);
        throw err;
      }
      if (reply.origin === 'upstream') detector.record(key, reply.status < 500);
      else if (reply.retriable && ex.aborted === null) detector.record(key, false);
      return reply;
}
