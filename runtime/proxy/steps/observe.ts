import type { ProxyContext } from '../context.js';
import type { Exchange, Outcome, Step } from '../pipeline.js';

/** observe records every request in metrics when it ends (status, duration; a gRPC call's grpc-status too). */
export function observe(ctx: ProxyContext): Step {
  const m = ctx.metrics;
  const record = (x: Exchange, o: Outcome): void => {
    m.request(x.direction, x.service?.id ?? '', x.rule?.id ?? '', x.backendService?.id ?? '', o.status, o.durationSeconds);
    if (o.grpcStatus !== null) m.grpc(x.direction, x.service?.id ?? '', x.rule?.id ?? '', o.grpcStatus);
  };
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
