import type { SourceSpan } from './positions.js';

/** Severity of a finding: an error stops the bundle; warnings and info do not. */
export type Severity = 'error' | 'warning' | 'info';

/**
 * Diagnostic is one finding. `code` is stable and documented in docs/diagnostics.md; `file` is
 * relative to the compiled directory (null only for findings about the whole run, such as a
 * revision that does not exist).
 */
export interface Diagnostic extends SourceSpan {
  code: string;
  severity: Severity;
  message: string;
  file: string | null;
  /** `Kind/namespace/name`, when the finding is about one resource. */
  resource: string | null;
  hint: string | null;
}
