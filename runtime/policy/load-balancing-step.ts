import type { ProxyContext } from '../proxy/context.js';
import type { Step } from '../proxy/pipeline.js';
import { PolicyPicker } from './policy-picker.js';
import { policyRuntime } from './policy-runtime.js';

/**
 * loadBalancing (outbound, before the endpoint step) installs the PolicyPicker, so each attempt's
 * endpoint is chosen by the backend's BackendPolicy (RoundRobin, LeastRequest, Random,
 * ConsistentHash) among endpoints not ejected by outlier detection.
 */
export function loadBalancing(ctx: ProxyContext): Step {
  const picker = new PolicyPicker(policyRuntime(ctx));
  return {
    name: 'load-balancing',
    wrap: (next) => (ex) => {
      if (ex.direction === 'outbound') ex.picker = picker;
      return next(ex);
    },
  };
}
