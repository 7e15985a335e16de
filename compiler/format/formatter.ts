/**
 * The one interface every diagnostics output format implements (text, json, sarif, github);
 * test/compiler/format.test.ts runs one conformance suite against all of them.
 */
import type { Diagnostic } from '../types.js';

/** FormatOptions are what a formatter may use beyond the diagnostics themselves. */
export interface FormatOptions {
  /** The text of a policy file, for source excerpts; null when it is not at hand. */
  source?: (file: string) => string | null;
  /** ANSI colours (text only); callers set it only when writing to a TTY. */
  color?: boolean;
}

/**
 * Formatter turns diagnostics, already sorted, into the complete output of one run. `format`
 * is pure: same input, same string; it never throws. Output is empty or ends with a newline; an
 * empty run still gives a valid document in formats that have one (`[]`, a SARIF log).
 */
export interface Formatter {
  readonly name: string;
  /** True when the output is for machines: nothing else may be printed on the same stream. */
  readonly machine: boolean;
  format(diagnostics: readonly Diagnostic[], options?: FormatOptions): string;
}
