import type { Rule, WeightedBackend } from '../../schemas/bundle.js';

/** RandomSource returns a number in [0, 1); injectable so tests and `weft test` are deterministic. */
export type RandomSource = () => number;

/**
 * BackendChoice is the outcome of the weighted choice: a backend, a direct response the rule
 * carries (no backends, or all weights zero: 500, Gateway API HTTPRouteAllBackendsWeightZero), or the share of an invalid backend (500).
 */
export type BackendChoice =
  | { readonly kind: 'backend'; readonly backend: WeightedBackend }
  | { readonly kind: 'direct'; readonly status: number; readonly reason: string }
  | { readonly kind: 'invalid'; readonly status: 500; readonly reason: string };

/**
 * chooseBackend picks a backend with probability weight / totalWeight. Weights are > 0 in the
 * bundle; a weight of 0 is never chosen even if present. `totalWeight` may exceed the sum of
 * valid weights: the difference is the share of invalid backends, answered 500 (Gateway API).
 */
export function chooseBackend(rule: Rule, random: RandomSource = Math.random): BackendChoice {
  if (rule.direct) return { kind: 'direct', status: rule.direct.status, reason: rule.direct.reason };
  const backends = rule.backends;
  if (backends.length === 1 && rule.totalWeight === backends[0]!.weight && backends[0]!.weight > 0) {
    return { kind: 'backend', backend: backends[0]! };
  }
  let valid = 0;
  for (const b of backends) if (b.weight > 0) valid += b.weight;
  const total = Math.max(rule.totalWeight, valid);
  if (total <= 0) return { kind: 'direct', status: 500, reason: `rule ${rule.id}: every backend has weight 0` };
  let r = random() * total;
  for (const b of backends) {
    if (b.weight <= 0) continue;
    if (r < b.weight) return { kind: 'backend', backend: b };
    r -= b.weight;
  }
  return { kind: 'invalid', status: 500, reason: `rule ${rule.id}: the chosen backend is invalid` };
}

/** backendShares is each backend's expected share in percent (for `weft test` weight expectations). */
export function backendShares(rule: Rule): Map<string, number> {
  const out = new Map<string, number>();
  let valid = 0;
  for (const b of rule.backends) if (b.weight > 0) valid += b.weight;
  const total = Math.max(rule.totalWeight, valid);
  if (rule.direct || total <= 0) return out;
  for (const b of rule.backends) if (b.weight > 0) out.set(b.service, (out.get(b.service) ?? 0) + (100 * b.weight) / total);
  return out;
}
