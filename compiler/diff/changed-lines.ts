/**
 * Which lines a change touched, so that findings on them come first. GitHub shows at most 10
 * annotations of each type per step: sorted by position, the ones a pull request author needs
 * (on the lines they changed) could be cut off by older findings elsewhere.
 */
import { simpleGit } from 'simple-git';
import type { Diagnostic } from '../types.js';

/** ChangedLines maps a file (as `git diff --relative` names it) to its changed line ranges, 1-based, inclusive. */
export type ChangedLines = ReadonlyMap<string, readonly (readonly [number, number])[]>;

/**
 * parseUnifiedDiff reads `git diff --unified=0` output. A hunk that only deletes lines marks the
 * line after which they were (at least line 1): a finding there is about the deletion.
 */
export function parseUnifiedDiff(text: string): Map<string, [number, number][]> {
  const out = new Map<string, [number, number][]>();
  let current: [number, number][] | null = null;
  for (const line of text.split('\n')) {
    if (line.startsWith('+++ ')) {
      const name = line.slice(4).replace(/\t.*$/, '');
      if (name === '/dev/null') {
        current = null;
        continue;
      }
      const file = name.startsWith('b/') ? name.slice(2) : name;
      current = out.get(file) ?? [];
      out.set(file, current);
      continue;
    }
    const hunk = /^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@/.exec(line);
    if (hunk && current) {
      const start = Number(hunk[1]);
      const count = hunk[2] === undefined ? 1 : Number(hunk[2]);
      if (count === 0) current.push([Math.max(1, start), Math.max(1, start)]);
      else current.push([start, start + count - 1]);
    }
  }
  return out;
}

/** changeRank: 0 the finding's span touches a changed line, 1 it is in a changed file, 2 elsewhere. */
export function changeRank(d: Diagnostic, changes: ChangedLines, prefix = ''): 0 | 1 | 2 {
  if (d.file === null) return 2;
  const ranges = changes.get(prefix + d.file);
  if (!ranges) return 2;
  const first = d.line;
  const last = Math.max(d.line, d.endLine);
  return ranges.some(([a, b]) => first <= b && last >= a) ? 0 : 1;
}

/**
 * orderByChanges puts findings on changed lines first, then those in changed files, then the
 * rest; within each group the input order (by position) is kept. `prefix` turns a diagnostic's
 * file (relative to the compiled directory) into the path git reports.
 */
export function orderByChanges(diagnostics: readonly Diagnostic[], changes: ChangedLines, prefix = ''): Diagnostic[] {
  return diagnostics
    .map((d, i) => ({ d, i, r: changeRank(d, changes, prefix) }))
    .sort((a, b) => a.r - b.r || a.i - b.i)
    .map((x) => x.d);
}

/**
 * gitChangedLines asks git what changed since the merge base of `base` and HEAD (what a pull
 * request shows): against `head` when given, else against the working tree. Paths are relative
 * to `cwd` (git diff --relative), as weft shows them.
 */
export async function gitChangedLines(base: string, head: string | null, cwd: string = process.cwd()): Promise<Map<string, [number, number][]>> {
  if (base.startsWith('-') || (head !== null && head.startsWith('-'))) throw new Error(`not a revision: ${base.startsWith('-') ? base : head}`);
  const git = simpleGit(cwd);
  const mergeBase = (await git.raw(['merge-base', base, head ?? 'HEAD'])).trim();
  // quotePath off: names with non-ASCII characters come through as written, not C-quoted.
  const args = ['-c', 'core.quotePath=false', 'diff', '--unified=0', '--relative', '--no-color', '--no-ext-diff', '--src-prefix=a/', '--dst-prefix=b/', mergeBase];
  if (head !== null) args.push(head);
  return parseUnifiedDiff(await git.raw(args));
}

