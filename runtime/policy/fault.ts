import type { FaultSpec } from '../../schemas/bundle.js';
import type { RandomSource } from './random.js';

/** FaultDecision is what to do to one request: wait `delayMs` (0: none), then abort or forward. */
export interface FaultDecision {
  delayMs: number;
  /** HTTP status to answer instead of forwarding; null: forward. */
  abortStatus: number | null;
}

const NO_FAULT: FaultDecision = Object.freeze({ delayMs: 0, abortStatus: null });

/**
 * decideFault draws delay and abort independently for one request: each happens with its
 * `percent` (0..100, fractions allowed) probability. A request can be both delayed and aborted
 * (the delay comes first), as with Envoy's and Istio's fault filters. 0% never fires and 100%
 * always does, whatever the random source returns in [0, 1).
 */
export function decideFault(spec: FaultSpec, random: RandomSource): FaultDecision {
  const delay = spec.delay !== null && spec.delay.ms > 0 && fires(spec.delay.percent, random) ? spec.delay.ms : 0;
  const abort = spec.abort !== null && fires(spec.abort.percent, random) ? spec.abort.status : null;
  if (delay === 0 && abort === null) return NO_FAULT;
  return { delayMs: delay, abortStatus: abort };
}

function fires(percent: number, random: RandomSource): boolean {
  if (percent <= 0) return false;
  if (percent >= 100) return true;
  return random() * 100 < percent;
}
