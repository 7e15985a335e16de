import { DirectResponseError, InvalidBackendError } from '../../errors.js';
import { chooseBackend } from '../../router/index.js';
import type { ProxyContext } from '../context.js';
import { withFilters } from './filters.js';
import { errorReply, missingFact, type Step } from '../pipeline.js';

/**
 * backend (outbound) makes the weighted choice once per request (retries go to the same backend
 * Service, another endpoint maybe) and runs that backend's own filters. A rule with a direct
 * response answers it (no backends, or every weight 0: 500); an invalid backend's share: 500.
 */
export function backend(ctx: ProxyContext): Step {
  return {
    name: 'backend',
    needs: ['route'],
    provides: ['backend'],
    direction: 'outbound',
    wrap: (next) => (ex) => {
      const rule = ex.rule ?? missingFact('backend', 'route');
      const choice = chooseBackend(rule, ctx.random);
      if (choice.kind === 'direct') return Promise.resolve(errorReply(new DirectResponseError(choice.status, choice.reason)));
      if (choice.kind === 'invalid') return Promise.resolve(errorReply(new InvalidBackendError(rule.id)));
      ex.backend = choice.backend;
      ex.backendService = ex.router.services.get(choice.backend.service)?.entry ?? null;
      if (!ex.backendService) return Promise.resolve(errorReply(new InvalidBackendError(rule.id)));
      if (choice.backend.filters.length === 0) return next(ex);
      return withFilters(ctx, ex, choice.backend.filters, next);
    },
  };
}
