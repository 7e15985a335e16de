import type { ProxyContext } from '../context.js';
import type { Exchange, Outcome, Step } from '../pipeline.js';

/** observe records every request in metrics when it ends (status, duration). */
export function observe(ctx: ProxyContext): Step {
  const m = ctx.metrics;
  const record = (x: Exchange, o: Outcome): void => m.request(x.direction, x.service?.id ?? '', x.rule?.id ?? '', x.backendService?.id ?? '', o.status, o.durationSeconds);
  return {
    name: 'observe',
    needs: [],
    provides: [],
    wrap: (next) => (ex) => {
      ex.onDone.push(record);
      return next(ex);
    },
  };
}
