import { BackendTimeoutError } from '../errors.js';
import type { ProxyContext } from './context.js';
import type { Step } from './pipeline.js';

/**
 * backendTimeout enforces `timeouts.backendRequest` (0: none) on one attempt, up to its response
 * headers, by giving the attempt its own signal. forward.ts turns the abort into a retriable 504.
 */
export function backendTimeout(ctx: ProxyContext): Step {
  return {
    name: 'backend-timeout',
    wrap: (next) => async (ex) => {
      const ms = ex.rule?.timeouts.backendRequestMs ?? 0;
      if (ms <= 0) {
        ex.attemptSignal = ex.signal;
        return next(ex);
      }
      const ac = new AbortController();
      const onAbort = (): void => ac.abort(ex.signal.reason);
      if (ex.signal.aborted) onAbort();
      else ex.signal.addEventListener('abort', onAbort, { once: true });
      const timer = setTimeout(() => {
        ctx.metrics.timeouts.inc({ service: ex.service?.id ?? '', route: ex.rule?.id ?? '', kind: 'backendRequest' });
        ac.abort(new BackendTimeoutError(ms));
      }, ms);
      ex.attemptSignal = ac.signal;
      try {
        return await next(ex);
      } finally {
        clearTimeout(timer);
        ex.signal.removeEventListener('abort', onAbort);
      }
    },
  };
}
