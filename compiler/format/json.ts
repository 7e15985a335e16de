/** The json format: the Diagnostics themselves, as one JSON array. */
import { jsonText } from './escape.js';
import type { Formatter } from './formatter.js';

/** json prints `[Diagnostic, ...]` with every field of the Diagnostic type, in input order. */
export const json: Formatter = {
  name: 'json',
  machine: true,
  format: (diagnostics) =>
    jsonText(
      diagnostics.map((d) => ({
        code: d.code,
        severity: d.severity,
        message: d.message,
        file: d.file,
        line: d.line,
        column: d.column,
        endLine: d.endLine,
        endColumn: d.endColumn,
        resource: d.resource,
        hint: d.hint,
      })),
    ) + '\n',
};
