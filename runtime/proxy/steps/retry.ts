import type { RetryPolicy } from '../../../schemas/bundle.js';
import type { ProxyContext } from '../context.js';
import { GRPC_RETRY_ON } from '../grpc-status.js';
import { discard, type Exchange, type Handler, type Reply, type Step } from '../pipeline.js';

/**
 * backoffMs is the wait before retry `n` (1-based): exponential from the base, capped at 10x the
 * base, jittered between the base and that cap so retries of many clients spread out, never below
 * the base (Gateway API: backoff is the minimum wait between attempts).
 */
export function backoffMs(policy: RetryPolicy, n: number, random: () => number): number {
  const base = Math.max(0, policy.backoffMs);
  const ceiling = Math.min(base * 10, base * 2 ** (n - 1));
  return base + random() * (ceiling - base);
}

function sleep(ms: number): Promise<void> {
  return ms <= 0 ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * retry makes attempts until one is not retriable or `attempts` retries were made. Retriable:
 * an upstream status in `codes`, or a failure before any response (refused, reset, attempt
 * timeout), or for a gRPC call a trailers-only answer whose grpc-status is in `grpcCodes` (Envoy's
 * `retry_on` names; a status that arrives in trailers after messages were streamed cannot be
 * retried, as in Envoy). A streamed (large) body is never replayed. Every attempt is counted
 * (weft_upstream_attempts_total in forward.ts, weft_retries_total here).
 */
export function retry(ctx: ProxyContext): Step {
  return {
    name: 'retry',
    needs: ['route', 'retry-budget'],
    provides: ['attempt'],
    direction: 'outbound',
    wrap: (next) => (ex) => {
      const policy = ex.rule?.retry ?? null;
      // No retry policy: one attempt, no loop, no extra promise.
      if (policy === null || policy.attempts <= 0) {
        ex.attempt++;
        return next(ex);
      }
      return attempts(ctx, ex, next, policy);
    },
  };
}

/** attempts is the retry loop for a rule with a retry policy. */
async function attempts(ctx: ProxyContext, ex: Exchange, next: Handler, policy: RetryPolicy): Promise<Reply> {
      for (;;) {
        ex.attempt++;
        const reply = await next(ex);
        if (ex.attempt > policy.attempts || ex.aborted || !ex.body.replayable) return reply;
        const retriable = reply.retriable || (reply.origin === 'upstream' && (policy.codes.includes(reply.status) || grpcRetriable(ex.grpc, policy.grpcCodes, reply)));
        if (!retriable) return reply;
        if (ex.retryGates.length > 0 && !ex.retryGates.every((gate) => gate(ex, reply))) return reply;
        discard(reply);
        ctx.metrics.retries.inc({ service: ex.service?.id ?? '', route: ex.rule?.id ?? '', reason: reply.code ?? String(reply.status) });
        // The request timeout answers the client itself; an aborted exchange stops here.
        await sleep(backoffMs(policy, ex.attempt, ctx.random));
        if (ex.aborted) return reply;
      }
}

/** grpcRetriable: a gRPC call answered trailers-only with a grpc-status the policy retries. */
function grpcRetriable(grpc: boolean, names: readonly string[] | undefined, reply: Reply): boolean {
  if (!grpc || !names || names.length === 0 || reply.body !== null) return false;
  const status = reply.headers['grpc-status'];
  if (typeof status !== 'string') return false;
  const n = Number(status);
  return names.some((name) => GRPC_RETRY_ON[name] === n);
}
