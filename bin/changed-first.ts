/**
 * changedFirst is `weft validate --changed-from REV`: findings reordered so that those on lines
 * changed since the merge base with REV come first (compiler/diff/changed-lines.ts), because
 * GitHub shows only 10 annotations of each type per step.
 */
import { UsageError } from './cli.js';
import { gitChangedLines, orderByChanges } from '../compiler/diff/changed-lines.js';
import type { Diagnostic } from '../compiler/types.js';

/**
 * changedFirst compares with the working tree, or with `head` when given (validate's --rev).
 * `prefix` is shownPrefix(DIR). A revision git cannot read is a usage error (exit 2).
 */
export async function changedFirst(diagnostics: readonly Diagnostic[], base: string, head: string | null, prefix: string): Promise<Diagnostic[]> {
  let changes: Map<string, [number, number][]>;
  try {
    changes = await gitChangedLines(base, head);
  } catch (err) {
    const msg = (err instanceof Error ? err.message : String(err)).split('\n').find((l) => l.trim() !== '') ?? 'git failed';
    throw new UsageError(`--changed-from ${base}: ${msg.replace(/^fatal: /, '')}`);
  }
  return orderByChanges(diagnostics, changes, prefix);
}
