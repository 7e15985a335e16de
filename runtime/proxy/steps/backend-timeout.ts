import { BackendTimeoutError } from '../../errors.js';
import type { ProxyContext } from '../context.js';
import type { Exchange, Handler, Reply, Step } from '../pipeline.js';

/**
 * backendTimeout enforces `timeouts.backendRequest` (0: none) on one attempt, up to its response
 * headers, by giving the attempt its own signal. forward.ts turns the abort into a retriable 504.
 */
export function backendTimeout(ctx: ProxyContext): Step {
  return {
    name: 'backend-timeout',
    needs: ['attempt'],
    provides: ['attempt-deadline'],
    direction: 'outbound',
    // Without a deadline no attempt is ever cut, so there is no attempt state to reset either.
    idle: (p) => p.rule !== null && p.rule.timeouts.backendRequestMs <= 0,
    wrap: (next) => (ex) => {
      ex.resetAttempt();
      const ms = ex.rule?.timeouts.backendRequestMs ?? 0;
      if (ms <= 0) return next(ex);
      return withDeadline(ctx, ex, next, ms);
    },
  };
}

/** withDeadline runs one attempt under its backendRequest deadline of `ms`. */
async function withDeadline(ctx: ProxyContext, ex: Exchange, next: Handler, ms: number): Promise<Reply> {
      // A signal for steps that wait inside the attempt (connection-pool queue); forward.ts is
      // cancelled directly through abortAttempt.
      const ac = new AbortController();
      const timer = setTimeout(() => {
        ctx.metrics.timeouts.inc({ service: ex.service?.id ?? '', route: ex.rule?.id ?? '', kind: 'backendRequest' });
        const err = new BackendTimeoutError(ms);
        ac.abort(err);
        ex.abortAttempt(err);
      }, ms);
      ex.attemptSignal = ac.signal;
      const whole = ex.aborted;
      if (whole) ac.abort(whole);
      try {
        return await next(ex);
      } finally {
        clearTimeout(timer);
      }
}
