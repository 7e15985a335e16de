import type { ProxyContext } from './context.js';
import type { Step } from './pipeline.js';

/** observe records every request in metrics when it ends (status, duration). */
export function observe(ctx: ProxyContext): Step {
  const m = ctx.metrics;
  return {
    name: 'observe',
    wrap: (next) => (ex) => {
      ex.onDone.push((x, o) => {
        const service = x.service?.id ?? '';
        m.requests.inc({ direction: x.direction, service, route: x.rule?.id ?? '', backend: x.backendService?.id ?? '', code: String(o.status) });
        m.duration.observe({ direction: x.direction, service }, o.durationSeconds);
      });
      return next(ex);
    },
  };
}
