import { FaultAbortError } from '../../errors.js';
import type { ProxyContext } from '../context.js';
import { errorReply, type Exchange, type Reply } from '../pipeline.js';

/**
 * injectFault carries out a Fault filter's decision (runtime/policy/request-filters.ts): maybe
 * wait `delayMs` (cut short if the request is aborted, e.g. by its timeout), then maybe answer
 * `abortStatus` without forwarding (`weft-reason: fault-abort`). Null: go on.
 */
export function injectFault(ctx: ProxyContext, ex: Exchange, fault: { name: string; delayMs: number; abortStatus: number | null }): Reply | null | Promise<Reply | null> {
  const metrics = ctx.policies.metrics;
  const service = ex.service?.id ?? '';
  const abort = (): Reply | null => {
    if (fault.abortStatus === null) return null;
    metrics.faults.inc({ service, fault: fault.name, kind: 'abort' });
    const reply = errorReply(new FaultAbortError(fault.name, fault.abortStatus));
    reply.headers['weft-reason'] = 'fault-abort';
    return reply;
  };
  if (fault.delayMs <= 0) return abort();
  metrics.faults.inc({ service, fault: fault.name, kind: 'delay' });
  return new Promise<Reply | null>((resolve) => {
    const signal = ex.signal;
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve(abort());
    };
    const timer = setTimeout(done, fault.delayMs);
    signal.addEventListener('abort', done, { once: true });
  });
}
