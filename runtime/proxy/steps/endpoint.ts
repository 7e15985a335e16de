import { NoEndpointsError } from '../../errors.js';
import type { ProxyContext } from '../context.js';
import { errorReply, type Step } from '../pipeline.js';

/**
 * endpoint (outbound, once per attempt) chooses the attempt's endpoint of `ex.backendService`
 * with `ex.picker` (the BackendPolicy's balancer) and tells the picker how the attempt ended
 * (status; 0 for a failure before any response). Per-endpoint policies (connection pool, outlier
 * detection) go after this step and see `ex.endpoint`.
 */
export function endpoint(_ctx: ProxyContext): Step {
  return {
    name: 'endpoint',
    needs: ['backend', 'balancer', 'attempt'],
    provides: ['endpoint'],
    wrap: (next) => async (ex) => {
      const svc = ex.backendService;
      if (!svc) return next(ex);
      const picker = ex.picker;
      const e = picker.pick(ex, svc);
      if (!e) return errorReply(new NoEndpointsError(svc.id));
      ex.endpoint = e;
      if (!picker.release) return next(ex);
      let status = 0;
      try {
        const reply = await next(ex);
        status = reply.origin === 'upstream' ? reply.status : 0;
        return reply;
      } finally {
        picker.release(ex, e, status);
      }
    },
  };
}

/** appEndpoint (inbound) targets the local app (`--app`). */
export function appEndpoint(ctx: ProxyContext): Step {
  const app = ctx.settings.app;
  return {
    name: 'endpoint',
    needs: [],
    provides: ['endpoint'],
    wrap: (next) => (ex) => {
      ex.endpoint = app;
      return next(ex);
    },
  };
}
