import { RequestTimeoutError } from '../../errors.js';
import type { ProxyContext } from '../context.js';
import { parseGrpcTimeout } from '../grpc-status.js';
import { discard, errorReply, type Reply, type Step } from '../pipeline.js';

/**
 * requestTimeout enforces the rule's `timeouts.request` (0: none) over the whole transaction,
 * retries and backoff included, up to the response headers: when it fires, the outstanding
 * attempt is aborted and the client gets 504. (The body then streams; a stalled body is cut by
 * undici's bodyTimeout.)
 *
 * A gRPC call's `grpc-timeout` is its deadline: the timeout is the shorter of the two, and the
 * header sent upstream is rewritten to the deadline actually enforced (gRPC over HTTP/2; Envoy's
 * behaviour when the route bounds it). The client then gets DEADLINE_EXCEEDED (grpc-status.ts).
 */
export function requestTimeout(ctx: ProxyContext): Step {
  return {
    name: 'request-timeout',
    needs: ['route'],
    provides: [],
    direction: 'outbound',
    // A gRPC call's grpc-timeout is a deadline even on a rule without one.
    idle: (p) => p.rule !== null && p.rule.timeouts.requestMs <= 0 && !p.grpc,
    wrap: (next) => (ex) => {
      let ms = ex.rule?.timeouts.requestMs ?? 0;
      if (ex.grpc) {
        const deadline = parseGrpcTimeout(ex.headers['grpc-timeout']);
        if (deadline !== null && (ms <= 0 || deadline < ms)) ms = deadline;
        else if (deadline !== null) ex.headers['grpc-timeout'] = `${ms}m`;
      }
      if (ms <= 0) return next(ex);
      return new Promise<Reply>((resolve, reject) => {
        let done = false;
        const timer = setTimeout(() => {
          if (done) return;
          done = true;
          const err = new RequestTimeoutError(ms);
          ctx.metrics.timeouts.inc({ service: ex.service?.id ?? '', route: ex.rule?.id ?? '', kind: 'request' });
          ex.abort(err);
          resolve(errorReply(err));
        }, ms);
        next(ex).then(
          (reply) => {
            clearTimeout(timer);
            if (done) discard(reply);
            else {
              done = true;
              resolve(reply);
            }
          },
          (err: unknown) => {
            clearTimeout(timer);
            if (!done) {
              done = true;
              reject(err);
            }
          },
        );
      });
    },
  };
}
