/**
 * RandomSource returns a number in [0, 1), like Math.random. Every policy that draws at random
 * (Random and LeastRequest balancing, fault percentages) takes one, so tests can make draws
 * reproducible instead of asserting on luck.
 */
export type RandomSource = () => number;

/** defaultRandom is Math.random: good enough for load spreading, not for secrets. */
export const defaultRandom: RandomSource = Math.random;

/**
 * seededRandom is a small deterministic generator (mulberry32) for tests and benchmarks. The same
 * seed always yields the same sequence; values are in [0, 1).
 */
export function seededRandom(seed: number): RandomSource {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** randomIndex draws an integer in [0, n) from `random`; n must be >= 1. */
export function randomIndex(random: RandomSource, n: number): number {
  // Clamp guards against a source that returns exactly 1 (a broken stub in a test).
  return Math.min(n - 1, Math.floor(random() * n));
}
