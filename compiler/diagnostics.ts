/**
 * Making and ordering Diagnostics. Passes never build Diagnostic objects by hand: they call
 * `report`, which takes the severity from CODES and the position from the resource's Origin.
 */
import { CODES, type Code } from './codes.js';
import type { SourceSpan } from './positions.js';
import type { Diagnostic, PassContext, Severity } from './types.js';
import { resourceId, type Origin } from './resources.js';

/** Where a finding is: a node of a resource (JSON Pointer), a span of a file, or the whole run. */
export type Place =
  | { origin: Origin; pointer?: string; key?: boolean; resource?: { kind: string; metadata: { namespace: string; name: string } } }
  | { file: string; span: SourceSpan; resource?: string }
  | null;

const NOWHERE: SourceSpan = { line: 0, column: 0, endLine: 0, endColumn: 0 };

/**
 * spanAt returns the span of the node at `pointer`, or of its closest written ancestor (a
 * missing field points at the object that should hold it). With `key`, the key's span.
 */
export function spanAt(origin: Origin, pointer = '', key = false): SourceSpan {
  let p = pointer;
  for (;;) {
    const pos = origin.positions.get(p);
    if (pos) return key && pos.key ? pos.key : pos.value;
    if (p === '') return origin.span;
    p = p.slice(0, p.lastIndexOf('/'));
  }
}

/** makeDiagnostic builds a Diagnostic for `code` at `place`; severity comes from CODES unless overridden. */
export function makeDiagnostic(code: Code, message: string, place: Place, opts: { hint?: string; severity?: Severity } = {}): Diagnostic {
  const info = CODES[code];
  let file: string | null = null;
  let span = NOWHERE;
  let resource: string | null = null;
  if (place && 'origin' in place) {
    file = place.origin.file;
    span = spanAt(place.origin, place.pointer ?? '', place.key ?? false);
    resource = place.resource ? resourceId(place.resource) : null;
  } else if (place) {
    file = place.file;
    span = place.span;
    resource = place.resource ?? null;
  }
  return { code, severity: opts.severity ?? info.severity, message, file, ...span, resource, hint: opts.hint ?? null };
}

/** report appends a diagnostic to the compile's context. */
export function report(ctx: PassContext, code: Code, message: string, place: Place, opts: { hint?: string; severity?: Severity } = {}): void {
  ctx.diagnostics.push(makeDiagnostic(code, message, place, opts));
}

/** compareDiagnostics orders by file (run-wide findings first), line, column, code, message. */
export function compareDiagnostics(a: Diagnostic, b: Diagnostic): number {
  const fa = a.file ?? '';
  const fb = b.file ?? '';
  if (fa !== fb) return fa < fb ? -1 : 1;
  return a.line - b.line || a.column - b.column || (a.code < b.code ? -1 : a.code > b.code ? 1 : 0) || (a.message < b.message ? -1 : a.message > b.message ? 1 : 0);
}

/** hasErrors is true when any diagnostic is an error. */
export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === 'error');
}
