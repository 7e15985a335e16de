/**
 * Regular expressions in routes are RE2 (re2js): matching time is linear in the input, so no
 * policy can make the proxy backtrack (ReDoS). checkRegex decides, once at compile time, whether
 * a pattern may reach the bundle.
 */
import { RE2JS } from 're2js';

/** MAX_REGEX_LENGTH caps a pattern's characters (the Gateway API path limit is 1024). */
export const MAX_REGEX_LENGTH = 1024;
/** MAX_PROGRAM_SIZE caps the compiled RE2 program (instructions): matching cost is input × program. */
export const MAX_PROGRAM_SIZE = 2000;

/** RegexProblem is why a pattern was refused: `code` is WFT508 (not RE2) or WFT509 (too costly). */
export interface RegexProblem {
  code: 'WFT508' | 'WFT509';
  message: string;
  hint: string | null;
}

// Perl/JavaScript features RE2 deliberately lacks: backreferences and lookaround.
const BACKTRACKING_ONLY = /\\[1-9]|\\k<|\(\?=|\(\?!|\(\?<=|\(\?<!/;

// Verdicts by pattern: real meshes repeat the same few patterns across many routes. Bounded so
// a repository of unique patterns cannot grow it without limit.
const verdicts = new Map<string, RegexProblem | null>();
const MAX_CACHED = 10_000;

/** checkRegex returns null when `pattern` compiles as RE2 within the limits; never throws. */
export function checkRegex(pattern: string): RegexProblem | null {
  const known = verdicts.get(pattern);
  if (known !== undefined) return known;
  const verdict = check(pattern);
  if (verdicts.size >= MAX_CACHED) verdicts.clear();
  verdicts.set(pattern, verdict);
  return verdict;
}

function check(pattern: string): RegexProblem | null {
  if (pattern.length > MAX_REGEX_LENGTH) {
    return { code: 'WFT509', message: `regular expression is ${pattern.length} characters long (limit ${MAX_REGEX_LENGTH})`, hint: null };
  }
  let size: number;
  try {
    size = RE2JS.compile(pattern).programSize();
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    // RE2 refuses counted repetitions that expand past 1000 copies (nested ones multiply): the
    // syntax is fine, the cost is not, so this is "too complex" rather than "invalid".
    const count = /invalid repeat count: `\{(\d+)(?:,(\d*))?\}`/.exec(why);
    const backwards = count?.[2] !== undefined && count[2] !== '' && Number(count[2]) < Number(count[1]);
    if (count && !backwards) {
      return { code: 'WFT509', message: `regular expression repeats too much for RE2 (${why})`, hint: 'counted repetitions may expand to at most 1000 copies in total; nested counts multiply' };
    }
    const hint = BACKTRACKING_ONLY.test(pattern)
      ? 'RE2 has no backreferences or lookaround (they need backtracking, which could be made to run for ever); rewrite without them'
      : 'patterns use RE2 syntax: https://github.com/google/re2/wiki/Syntax';
    return { code: 'WFT508', message: `regular expression does not compile as RE2: ${why}`, hint };
  }
  if (size > MAX_PROGRAM_SIZE) {
    return { code: 'WFT509', message: `regular expression compiles to ${size} RE2 instructions (limit ${MAX_PROGRAM_SIZE})`, hint: 'large counted repetitions such as {500} multiply the program size' };
  }
  return null;
}
