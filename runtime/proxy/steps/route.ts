import { NoRouteError, UnknownHostError } from '../../errors.js';
import { route as routeRequest } from '../../router/index.js';
import type { ProxyContext } from '../context.js';
import { errorReply, type Step } from '../pipeline.js';

/**
 * route (outbound) asks the router, with the table this request started on, which rule applies:
 * the Host (or absolute-form authority) names the Service, the caller is this proxy's namespace.
 * Unknown host or no matching route: 404, nothing forwarded (the proxy is never an open proxy).
 */
export function route(ctx: ProxyContext): Step {
  const ns = ctx.settings.namespace;
  // The caller's egress scope decides which hosts exist for it (out of scope: 404 unknown host).
  const self = `${ns}/${ctx.settings.service}`;
  return {
    name: 'route',
    needs: ['normalized-path', 'caller', 'forwarded-headers'],
    provides: ['route'],
    direction: 'outbound',
    wrap: (next) => (ex) => {
      const d = routeRequest(ex.router, ex.authority, ns, ex, self);
      if (d.kind === 'not-found') {
        ex.service = d.service?.entry ?? null;
        return Promise.resolve(errorReply(d.reason === 'unknown-host' ? new UnknownHostError(ex.authority) : new NoRouteError(d.service?.entry.id ?? '?')));
      }
      ex.decision = d;
      ex.service = d.service.entry;
      ex.rule = d.rule;
      return next(ex);
    },
  };
}

/**
 * inboundRoute (inbound) makes this proxy's own Service the destination, so inbound policies
 * (authorization, rate limits) find their settings in `ex.service`. A Service missing from the
 * bundle still reaches the app (ex.service stays null).
 */
export function inboundRoute(ctx: ProxyContext): Step {
  const id = `${ctx.settings.namespace}/${ctx.settings.service}`;
  return {
    name: 'inbound-route',
    needs: [],
    provides: ['route'],
    direction: 'inbound',
    wrap: (next) => (ex) => {
      ex.service = ex.router.services.get(id)?.entry ?? null;
      return next(ex);
    },
  };
}
