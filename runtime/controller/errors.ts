import { WeftError, type RuntimeCode } from '../errors.js';

/**
 * ControllerErrorCode: every failure the controller can raise on its own (compile failures are
 * diagnostics, not errors), the WEFT_CTL_ codes of RUNTIME_ERRORS (runtime/errors.ts, documented
 * in docs/runtime-errors.md). Logs, /v1/status and the proxies' status reports carry them.
 */
export type ControllerErrorCode = Extract<RuntimeCode, `WEFT_CTL_${string}`>;

/** ControllerError carries a stable `code`; its message is one line, fit for a log or a terminal. */
export class ControllerError extends WeftError {
  override name = 'ControllerError';
  declare readonly code: ControllerErrorCode;
  constructor(code: ControllerErrorCode, message: string) {
    super(code, message, 500);
  }
}

export { messageOf } from '../errors.js';
