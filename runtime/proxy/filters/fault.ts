import { FaultAbortError } from '../../errors.js';
import type { FilterImpl } from './filter.js';
import { errorReply, type Reply } from '../pipeline.js';
import { decideFault } from '../../policy/fault.js';

/**
 * faultFilter implements the `Fault` filter (an HTTPRoute ExtensionRef to a weft.dev Fault),
 * registered in the proxy's FILTERS table: per request, maybe wait `delay.ms` (cut short if the
 * request is aborted, e.g. by its timeout), then maybe answer `abort.status` without forwarding
 * (`weft-reason: fault-abort`). Draws use the proxy's random source.
 */
export const faultFilter: FilterImpl = (ctx, ex, filter) => {
  if (filter.type !== 'Fault') return null;
  const rt = ctx.policies;
  const d = decideFault(filter.fault, rt.random);
  const service = ex.service?.id ?? '';
  const abort = (): Reply | null => {
    if (d.abortStatus === null) return null;
    rt.metrics.faults.inc({ service, fault: filter.name, kind: 'abort' });
    const reply = errorReply(new FaultAbortError(filter.name, d.abortStatus));
    reply.headers['weft-reason'] = 'fault-abort';
    return reply;
  };
  if (d.delayMs <= 0) return abort();
  rt.metrics.faults.inc({ service, fault: filter.name, kind: 'delay' });
  return new Promise<Reply | null>((resolve) => {
    const signal = ex.signal;
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve(abort());
    };
    const timer = setTimeout(done, d.delayMs);
    signal.addEventListener('abort', done, { once: true });
  });
};
