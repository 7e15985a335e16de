import { WeftError, type RuntimeCode } from '../errors.js';

/**
 * SourceErrorCode: the failures a bundle source raises on the proxy's side of the protocol, the
 * WEFT_SRC_ codes of RUNTIME_ERRORS (runtime/errors.ts, documented in docs/runtime-errors.md).
 * Proxy logs and the status reports it posts carry them.
 */
export type SourceErrorCode = Extract<RuntimeCode, `WEFT_SRC_${string}`>;

/** SourceError carries a stable `code`; its message is one line, fit for a log. */
export class SourceError extends WeftError {
  override name = 'SourceError';
  declare readonly code: SourceErrorCode;
  constructor(code: SourceErrorCode, message: string) {
    super(code, message, 502);
  }
}
