import { NoEndpointsError } from '../errors.js';
import type { ProxyContext } from './context.js';
import { errorReply, type Step } from './pipeline.js';

/**
 * endpoint chooses the endpoint of each attempt with `ex.picker` (outbound) or targets the local
 * app (inbound), and tells the picker how the attempt ended (status; 0 for a failure before any
 * response). Policy steps that act per endpoint (outlier detection, connection limits) go after
 * this step and see `ex.endpoint`.
 */
export function endpoint(ctx: ProxyContext): Step {
  return {
    name: 'endpoint',
    wrap: (next) => async (ex) => {
      if (ex.direction === 'inbound') {
        ex.endpoint = ctx.settings.app;
        return next(ex);
      }
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
