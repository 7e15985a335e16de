/**
 * Gateway API durations (GEP-2257): up to four number+unit pairs, units h, m, s, ms, each number
 * at most five digits ("1h30m", "250ms", "0s"). Shared by validate (format) and the later passes
 * (values), so both agree on what a duration is.
 */

/** DURATION_PATTERN is GEP-2257's regular expression, for JSON Schemas and format checks. */
export const DURATION_PATTERN = '^([0-9]{1,5}(h|m|s|ms)){1,4}$';

const WHOLE = new RegExp(DURATION_PATTERN);
// `ms` before `m` and `s`, so "5ms" is one pair and never "5m" followed by a stray "s".
const PAIR = /([0-9]{1,5})(ms|h|m|s)/g;
const UNIT_MS: Readonly<Record<string, number>> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };

/**
 * parseDuration returns a GEP-2257 duration in whole milliseconds, or null when `s` is not one
 * (never throws). "0s" is 0, which the bundle reads as "disabled".
 */
export function parseDuration(s: string): number | null {
  if (typeof s !== 'string') return null;
  const known = parsed.get(s);
  if (known !== undefined) return known;
  let total: number | null = null;
  if (WHOLE.test(s)) {
    total = 0;
    for (const m of s.matchAll(PAIR)) total += Number(m[1]) * (UNIT_MS[m[2] ?? ''] ?? 0);
  }
  if (parsed.size >= MAX_CACHED) parsed.clear();
  parsed.set(s, total);
  return total;
}

// A repository repeats a handful of durations thousands of times; bounded so that arbitrary
// input cannot grow it without limit.
const parsed = new Map<string, number | null>();
const MAX_CACHED = 1000;
