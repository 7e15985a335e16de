import type { AuthorizationSettings } from '../../../schemas/bundle.js';
import { ForbiddenError } from '../../errors.js';
import type { ProxyContext } from '../context.js';
import { errorReply, type Step } from '../pipeline.js';
import { authorize, describeDenial } from '../../policy/authorization.js';

const NONE: AuthorizationSettings = Object.freeze({ deny: [], allow: [] });

/**
 * authorization (inbound, after path normalisation and caller identity) applies the Service's
 * AuthorizationPolicies (authorize: DENY first, then ALLOW, else the mesh default). Denied: 403
 * whose body names the deciding policy, `weft-reason: forbidden`. A Service missing from the
 * bundle has no policies: the mesh default decides for it.
 */
export function authorization(ctx: ProxyContext): Step {
  const rt = ctx.policies;
  const self = `${ctx.settings.namespace}/${ctx.settings.service}`;
  return {
    name: 'authorization',
    needs: ['route', 'caller', 'normalized-path'],
    provides: ['authorized'],
    direction: 'inbound',
    // No policy on this Service and a mesh default of allow: everyone is admitted.
    idle: (p) => {
      const a = p.router.services.get(self)?.entry.authorization ?? NONE;
      return a.deny.length === 0 && a.allow.length === 0 && p.router.mesh.authorization.default === 'allow';
    },
    wrap: (next) => (ex) => {
      const svc = ex.service;
      // The Exchange is the AuthorizationRequest (caller, method, path, headers, authority): no copy per request.
      const d = authorize(svc?.authorization ?? NONE, ex.router.mesh.authorization.default, ex);
      if (d.allowed) return next(ex);
      const policy = d.reason === 'deny-policy' ? d.policy : d.reason === 'no-allow-match' ? d.policies.join(',') : 'mesh-default';
      rt.metrics.denied.inc({ service: svc?.id ?? `${ctx.settings.namespace}/${ctx.settings.service}`, policy });
      ex.notes['policy'] = `forbidden ${policy}`;
      const reply = errorReply(new ForbiddenError(describeDenial(d)));
      reply.headers['weft-reason'] = 'forbidden';
      return Promise.resolve(reply);
    },
  };
}
