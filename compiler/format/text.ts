/**
 * The text format, for people: `file:line:col severity CODE message`, the source line with a
 * caret under the span, the hint, and a summary line. Colour only when the caller says the
 * output is a terminal.
 */
import type { Diagnostic, Severity } from '../types.js';
import { forTerminal, forTerminalLines } from './escape.js';
import type { FormatOptions, Formatter } from './formatter.js';

const ANSI = { red: '\x1b[31m', yellow: '\x1b[33m', blue: '\x1b[34m', dim: '\x1b[2m', bold: '\x1b[1m', reset: '\x1b[0m' };
const COLOUR: Record<Severity, string> = { error: ANSI.red, warning: ANSI.yellow, info: ANSI.blue };

/** excerpt returns the diagnostic's first source line and a caret line under its span, or []. */
function excerpt(d: Diagnostic, source: string | null, paint: (s: string, c: string) => string): string[] {
  if (source === null || d.line < 1) return [];
  const lines = source.split('\n');
  const raw = lines[d.line - 1];
  if (raw === undefined) return [];
  // Tabs are shown as one space so the caret stays under the right character.
  // Control characters in the file are shown escaped, like every other user text; the caret then
  // sits under the escaped text's columns only approximately, which beats a live escape sequence.
  const text = forTerminal(raw.replace(/\r$/, '').replace(/\t/g, ' '));
  const start = Math.min(Math.max(1, d.column), text.length + 1);
  const end = d.endLine === d.line ? Math.max(start + 1, Math.min(d.endColumn, text.length + 1)) : text.length + 1;
  const width = String(d.line).length;
  const gutter = `${' '.repeat(width)} | `;
  return [
    paint(`${String(d.line)} | `, ANSI.dim) + text,
    paint(gutter, ANSI.dim) + ' '.repeat(start - 1) + paint('^'.repeat(Math.max(1, end - start)), COLOUR[d.severity]),
  ];
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** text prints each diagnostic with an excerpt (when the source is at hand) and a summary line. */
export const text: Formatter = {
  name: 'text',
  machine: false,
  format(diagnostics: readonly Diagnostic[], options: FormatOptions = {}): string {
    const paint = options.color ? (s: string, c: string) => `${c}${s}${ANSI.reset}` : (s: string) => s;
    const cache = new Map<string, string | null>();
    const sourceOf = (file: string): string | null => {
      if (!options.source) return null;
      if (!cache.has(file)) {
        let s: string | null = null;
        try {
          s = options.source(file);
        } catch {
          s = null;
        }
        cache.set(file, s);
      }
      return cache.get(file) ?? null;
    };
    const out: string[] = [];
    for (const d of diagnostics) {
      // File names, messages (which quote policy values), hints and resource names are user
      // text: their control characters are escaped (compiler/format/escape.ts). A message's own
      // line breaks continue behind "    | ", so no continuation line can start with "::" and be
      // read as a workflow command by a CI log (GitHub trims leading spaces).
      const file = d.file === null ? null : forTerminal(d.file);
      const where = file === null ? 'weft' : d.line > 0 ? `${file}:${d.line}:${d.column}` : file;
      out.push(`${paint(where, ANSI.bold)} ${paint(d.severity, COLOUR[d.severity])} ${paint(d.code, ANSI.dim)} ${forTerminalLines(d.message.replace(/\r\n|\r/g, '\n')).replace(/\n/g, '\n    | ')}`);
      if (d.file !== null) out.push(...excerpt(d, sourceOf(d.file), paint).map((l) => `  ${l}`));
      if (d.hint) out.push(`  ${paint('hint:', ANSI.blue)} ${forTerminal(d.hint)}`);
      if (d.resource) out.push(`  ${paint(`in ${forTerminal(d.resource)}`, ANSI.dim)}`);
    }
    const count = (s: Severity) => diagnostics.filter((d) => d.severity === s).length;
    const e = count('error');
    const w = count('warning');
    const i = count('info');
    if (out.length > 0) out.push('');
    out.push(e + w + i === 0 ? 'no problems found' : [plural(e, 'error'), plural(w, 'warning'), ...(i > 0 ? [plural(i, 'note')] : [])].join(', '));
    return out.join('\n') + '\n';
  },
};
