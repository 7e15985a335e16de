import type { ProxyContext } from '../context.js';
import { missingFact, type Step } from '../pipeline.js';

/**
 * retryBudget (outbound, after the backend step and before the retry step) counts the request
 * against its backend's retry budget and installs a retry gate: a retry the budget does not
 * allow is not made, and the failed reply is returned as it is
 * (weft_retry_budget_exhausted_total counts it).
 */
export function retryBudget(ctx: ProxyContext): Step {
  const rt = ctx.policies;
  return {
    name: 'retry-budget',
    needs: ['backend'],
    provides: ['retry-budget'],
    direction: 'outbound',
    wrap: (next) => (ex) => {
      const svc = ex.backendService ?? missingFact('retry-budget', 'backend');
      const budget = rt.forRouter(ex.router).backend(svc).state.budget;
      budget.recordRequest();
      ex.retryGates.push(() => {
        if (budget.tryRetry()) return true;
        rt.metrics.budgetExhausted.inc({ service: svc.id });
        return false;
      });
      return next(ex);
    },
  };
}
