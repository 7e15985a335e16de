import type { ProxyContext } from '../context.js';
import { missingFact, type RetryGate, type Step } from '../pipeline.js';
import type { RetryBudget } from '../../policy/retry-budget.js';

/**
 * retryBudget (outbound, after the backend step and before the retry step) counts the request
 * against its backend's retry budget and installs a retry gate: a retry the budget does not
 * allow is not made, and the failed reply is returned as it is
 * (weft_retry_budget_exhausted_total counts it).
 */
export function retryBudget(ctx: ProxyContext): Step {
  const rt = ctx.policies;
  const gates = new WeakMap<RetryBudget, Map<string, RetryGate>>();
  const gateFor = (budget: RetryBudget, service: string): RetryGate => {
    let byService = gates.get(budget);
    if (byService === undefined) gates.set(budget, (byService = new Map()));
    let gate = byService.get(service);
    if (gate === undefined) {
      gate = () => {
        if (budget.tryRetry()) return true;
        rt.metrics.budgetExhausted.inc({ service });
        return false;
      };
      byService.set(service, gate);
    }
    return gate;
  };
  return {
    name: 'retry-budget',
    needs: ['backend'],
    provides: ['retry-budget'],
    direction: 'outbound',
    wrap: (next) => (ex) => {
      const svc = ex.backendService ?? missingFact('retry-budget', 'backend');
      const budget = rt.forRouter(ex.router).backend(svc).state.budget;
      budget.recordRequest();
      // The gate matters only to a rule that retries; it is made once per budget and Service.
      const retry = ex.rule?.retry;
      if (retry && retry.attempts > 0) ex.retryGates.push(gateFor(budget, svc.id));
      return next(ex);
    },
  };
}
