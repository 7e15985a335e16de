import { WeftError } from '../errors.js';

/**
 * SOURCE_ERROR_CODES are the failures a bundle source raises on the proxy's side of the protocol.
 * Codes are stable: proxy logs and the status reports it posts carry them; docs/protocol.md lists them.
 */
export const SOURCE_ERROR_CODES = {
  WEFT_SRC_UNREACHABLE: 'The controller did not answer (connection refused, reset, timeout).',
  WEFT_SRC_HTTP: 'The controller answered with an unexpected HTTP status.',
  WEFT_SRC_TOO_LARGE: 'A bundle from the controller is larger than the size limit and was not loaded.',
} as const;

export type SourceErrorCode = keyof typeof SOURCE_ERROR_CODES;

/** SourceError carries a stable `code`; its message is one line, fit for a log. */
export class SourceError extends WeftError {
  override name = 'SourceError';
  declare readonly code: SourceErrorCode;
  constructor(code: SourceErrorCode, message: string) {
    super(code, message, 502);
  }
}
