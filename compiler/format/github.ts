/**
 * The github format: GitHub Actions workflow commands, one per diagnostic, which GitHub shows as
 * annotations on the pull request's changed lines.
 * https://docs.github.com/actions/reference/workflow-commands-for-github-actions
 */
import type { Diagnostic } from '../types.js';
import { forTerminalLines } from './escape.js';
import type { Formatter } from './formatter.js';

/**
 * escapeData escapes a command's message: %, CR and LF (the toolkit's escapeData), and shows any
 * other control character escaped (an ESC would reach the log viewer as a terminal sequence).
 */
export function escapeData(s: string): string {
  return forTerminalLines(s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A'));
}

/** escapeProperty escapes a property value: as escapeData, plus : and , (the toolkit's escapeProperty). */
export function escapeProperty(s: string): string {
  return escapeData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

const COMMAND = { error: 'error', warning: 'warning', info: 'notice' } as const;

function line(d: Diagnostic): string {
  const props: string[] = [];
  if (d.file !== null) {
    props.push(`file=${escapeProperty(d.file)}`);
    if (d.line > 0) {
      props.push(`line=${d.line}`, `col=${d.column}`);
      if (d.endLine > 0) props.push(`endLine=${d.endLine}`, `endColumn=${d.endColumn}`);
    }
  }
  props.push(`title=${escapeProperty(d.code)}`);
  const message = d.hint ? `${d.message}\n${d.hint}` : d.message;
  return `::${COMMAND[d.severity]} ${props.join(',')}::${escapeData(message)}`;
}

/** github prints one `::error|warning|notice file=..,line=..,col=..,endLine=..,endColumn=..,title=CODE::message` per diagnostic. */
export const github: Formatter = {
  name: 'github',
  machine: true,
  format: (diagnostics) => diagnostics.map((d) => line(d) + '\n').join(''),
};
