import type { ProxyContext } from '../context.js';
import type { Step } from '../pipeline.js';
import { PolicyPicker } from '../policy-picker.js';

/**
 * loadBalancing (outbound, before the endpoint step) installs the PolicyPicker, so each attempt's
 * endpoint is chosen by the backend's BackendPolicy (RoundRobin, LeastRequest, Random,
 * ConsistentHash) among endpoints not ejected by outlier detection.
 */
export function loadBalancing(ctx: ProxyContext): Step {
  const picker = new PolicyPicker(ctx.policies);
  return {
    name: 'load-balancing',
    needs: ['backend'],
    provides: ['balancer'],
    wrap: (next) => (ex) => {
      if (ex.direction === 'outbound') ex.picker = picker;
      return next(ex);
    },
  };
}
