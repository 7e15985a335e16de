/**
 * What `weft validate` and `weft compile` share: the flags both take, diagnostics shown with
 * paths as the user typed the folder, source excerpts (from disk, or from git with --rev), and
 * the exit code a set of diagnostics means.
 */
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { simpleGit } from 'simple-git';
import { UsageError } from './cli.js';
import { FORMATTERS, isFormatName, type FormatName } from '../compiler/format/index.js';
import type { Diagnostic } from '../compiler/types.js';

/** EXCERPT_MAX_BYTES: files larger than this are not re-read for excerpts. */
const EXCERPT_MAX_BYTES = 4 * 1024 * 1024;

/** parseFormat checks a --format value. */
export function parseFormat(value: string | undefined): FormatName {
  const v = value ?? 'text';
  if (!isFormatName(v)) throw new UsageError(`--format must be one of ${Object.keys(FORMATTERS).join(', ')}, not "${v}"`);
  return v;
}

/** parseBytes checks a --max-file-size value: a positive whole number of bytes. */
export function parseBytes(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[1-9][0-9]{0,14}$/.test(value)) throw new UsageError(`${flag} must be a positive whole number of bytes, not "${value}"`);
  return Number(value);
}

/** oneDir returns the single optional DIR positional ('.' when absent). */
export function oneDir(positionals: string[]): string {
  if (positionals.length > 1) throw new UsageError(`expected at most one DIR, got ${positionals.length}: ${positionals.join(' ')}`);
  return positionals[0] ?? '.';
}

/**
 * shownPrefix is how DIR is written in front of each diagnostic's file (which is relative to
 * DIR): relative to the current directory, '/'-separated, '' for the current directory itself.
 * GitHub annotations and SARIF need paths from the repository root, where CI runs.
 */
export function shownPrefix(dir: string): string {
  const rel = path.relative(process.cwd(), path.resolve(dir));
  return rel === '' ? '' : `${rel.split(path.sep).join('/')}/`;
}

/** forDisplay returns the diagnostics with their files prefixed by shownPrefix(dir). */
export function forDisplay(diagnostics: readonly Diagnostic[], dir: string): Diagnostic[] {
  const prefix = shownPrefix(dir);
  return diagnostics.map((d) => (d.file === null || prefix === '' ? d : { ...d, file: prefix + d.file }));
}

/**
 * sourcesFor reads the files the diagnostics point at, for excerpts: from disk, or with `rev`
 * from git (never from the working tree, which may hold something else). Missing ones are null.
 */
export async function sourcesFor(diagnostics: readonly Diagnostic[], dir: string, rev: string | undefined): Promise<Map<string, string | null>> {
  const files = [...new Set(diagnostics.map((d) => d.file).filter((f): f is string => f !== null && f !== ''))];
  const out = new Map<string, string | null>();
  for (const f of files) {
    let text: string | null = null;
    try {
      if (rev === undefined) {
        const p = path.join(dir, f);
        if (statSync(p).size <= EXCERPT_MAX_BYTES) text = readFileSync(p, 'utf8');
      } else if (!rev.startsWith('-')) {
        const buf = await simpleGit(dir).showBuffer([`${rev}:./${f}`]);
        if (buf.byteLength <= EXCERPT_MAX_BYTES) text = buf.toString('utf8');
      }
    } catch {
      text = null;
    }
    out.set(f, text);
  }
  return out;
}

/**
 * render formats diagnostics for output. Excerpts come from `sources` (keyed by the file as the
 * compiler reported it); colour only for text on a TTY without NO_COLOR.
 */
export function render(format: FormatName, diagnostics: readonly Diagnostic[], dir: string, sources: Map<string, string | null>, tty: boolean): string {
  const prefix = shownPrefix(dir);
  const color = format === 'text' && tty && !process.env.NO_COLOR;
  return FORMATTERS[format].format(forDisplay(diagnostics, dir), {
    color,
    source: (shown) => sources.get(prefix !== '' && shown.startsWith(prefix) ? shown.slice(prefix.length) : shown) ?? null,
  });
}

/** INTERNAL_CODE marks a compiler bug; a run that hit one exits 2, as DESIGN.md asks. */
export const INTERNAL_CODE = 'WFT901';

/**
 * exitCode: 2 when the compiler failed internally, 1 when a finding at or above `failOn`
 * exists, else 0.
 */
export function exitCode(diagnostics: readonly Diagnostic[], failOn: 'error' | 'warning'): number {
  if (diagnostics.some((d) => d.code === INTERNAL_CODE)) return 2;
  const failing = diagnostics.some((d) => d.severity === 'error' || (failOn === 'warning' && d.severity === 'warning'));
  return failing ? 1 : 0;
}

/**
 * throwArgumentErrors enforces the CLI's exit-code rule: a mistake in what was typed exits 2
 * with one line on stderr, whatever the command; only findings in the policies exit 1. From a
 * compile's findings, that means a revision that does not resolve (WFT103, blamed on the flag
 * that named it: --rev, --base or --head) and a DIR that does not exist (WFT102 about the folder
 * itself, which carries no file). Throws UsageError when there is one; returns otherwise.
 */
export function throwArgumentErrors(diagnostics: readonly Diagnostic[], revFlag: string | null, dir: string): void {
  const lines: string[] = [];
  for (const d of diagnostics) {
    if (d.code === 'WFT103') lines.push(`${revFlag ?? '--rev'}: ${d.message}${d.hint ? ` (${d.hint})` : ''}`);
    else if (d.code === 'WFT102' && d.file === null) lines.push(`DIR ${dir}: ${d.message}`);
  }
  if (lines.length > 0) throw new UsageError(lines.join('\n'));
}
