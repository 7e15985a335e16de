/**
 * eligibleIndexes lists the indexes in [0, n) that `eligible` admits, ascending: the slow path
 * balancers take only when their first choice was ineligible.
 */
export function eligibleIndexes(n: number, eligible: (index: number) => boolean): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) if (eligible(i)) out.push(i);
  return out;
}
