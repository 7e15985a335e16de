import { EndpointsUnknownError, NoEndpointsError, NoReadyEndpointsError } from '../../errors.js';
import type { ProxyContext } from '../context.js';
import { errorReply, missingFact, type Step } from '../pipeline.js';

/**
 * endpoint (outbound, once per attempt) chooses the attempt's endpoint of `ex.backendService`
 * by its BackendPolicy (load-balancing algorithm over the endpoints outlier detection has not
 * ejected: RouterPolicies.pickEndpoint), so a retry may go to another endpoint. No endpoint:
 * 503. Per-endpoint policies (connection pool, outlier detection) go after this step.
 */
export function endpoint(ctx: ProxyContext): Step {
  const policies = ctx.policies;
  return {
    name: 'endpoint',
    needs: ['backend', 'attempt'],
    provides: ['endpoint'],
    direction: 'outbound',
    wrap: (next) => (ex) => {
      const svc = ex.backendService ?? missingFact('endpoint', 'backend');
      // The Service's endpoints now (git's + discovered ready ones, docs/discovery.md): read per
      // attempt, so a retry after an instance left already sees the new set.
      const view = ctx.endpoints.view(svc);
      const e = policies.forRouter(ex.router).pickEndpoint(svc, ex, view.endpoints);
      if (!e) {
        if (view.state === 'unknown') return Promise.resolve(errorReply(new EndpointsUnknownError(svc.id)));
        if (view.state === 'discovered' && view.endpoints.length === 0) return Promise.resolve(errorReply(new NoReadyEndpointsError(svc.id, view.notReady)));
        return Promise.resolve(errorReply(new NoEndpointsError(svc.id)));
      }
      ex.endpoint = e;
      return next(ex);
    },
  };
}

/** appEndpoint (inbound) targets the local app (`--app`). */
export function appEndpoint(ctx: ProxyContext): Step {
  const app = ctx.settings.app;
  return {
    name: 'endpoint',
    needs: [],
    provides: ['endpoint'],
    direction: 'inbound',
    wrap: (next) => (ex) => {
      ex.endpoint = app;
      return next(ex);
    },
  };
}
