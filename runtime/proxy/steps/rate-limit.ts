import { RateLimitedError } from '../../errors.js';
import type { ProxyContext } from '../context.js';
import { errorReply, type Step } from '../pipeline.js';

/**
 * rateLimit applies RateLimitPolicies: inbound, those on this proxy's Service (after
 * authorization, so refused callers take no tokens); outbound, those on the matched rule's
 * HTTPRoute (after routing). Refused: 429 with Retry-After and `weft-reason: rate-limited`.
 * Buckets are this proxy's own (per-instance limits).
 */
export function rateLimit(ctx: ProxyContext): Step {
  const rt = ctx.policies;
  // Inbound, the limits are those of this proxy's own Service (inbound-route makes it ex.service).
  const self = `${ctx.settings.namespace}/${ctx.settings.service}`;
  return {
    name: 'rate-limit',
    needs: ['route', 'caller'],
    provides: [],
    idle: (p) => {
      const policies = rt.forRouter(p.router);
      if (p.direction === 'inbound') return !policies.serviceLimits.has(self);
      return p.rule !== null && !policies.ruleLimits.has(p.rule.id);
    },
    wrap: (next) => (ex) => {
      const policies = rt.forRouter(ex.router);
      const limiter = ex.direction === 'inbound' ? (ex.service ? policies.serviceLimits.get(ex.service.id) : undefined) : ex.rule ? policies.ruleLimits.get(ex.rule.id) : undefined;
      if (limiter === undefined) return next(ex);
      const d = limiter.check(ex); // the Exchange is the RateLimitRequest: no copy per request
      if (d.allowed) return next(ex);
      rt.metrics.rateLimited.inc({ direction: ex.direction, service: ex.service?.id ?? '', policy: d.policy });
      ex.notes['policy'] = `rate-limited ${d.policy}`;
      const reply = errorReply(new RateLimitedError(d.policy, d.retryAfterSeconds));
      reply.headers['retry-after'] = String(d.retryAfterSeconds);
      reply.headers['weft-reason'] = 'rate-limited';
      return Promise.resolve(reply);
    },
  };
}
