import { WeftError } from '../errors.js';

/**
 * ControllerError is every failure the controller can raise on their own
 * (compile failures are diagnostics, not errors). Codes are stable: logs, /v1/status and the
 * proxies' status reports carry them, and docs/protocol.md lists them.
 */
export const CONTROLLER_ERROR_CODES = {
  WEFT_CTL_REPO: 'The repository cannot be opened, cloned or fetched, or the branch does not exist.',
  WEFT_CTL_STORE: 'The bundle store cannot be read or written.',
  WEFT_CTL_LISTEN: 'The controller cannot listen on the address given.',
  WEFT_CTL_BAD_REQUEST: 'A request to the controller is malformed (bad JSON, missing field, too large).',
  WEFT_CTL_NOT_READY: 'No bundle exists yet (the first compile has not finished, or failed).',
  WEFT_CTL_NOT_FOUND: 'No such path on the controller.',
  WEFT_CTL_METHOD: 'The path exists, but not with this method.',
  WEFT_CTL_INTERNAL: 'The controller failed answering a request; this is a bug.',
  WEFT_CTL_FORBIDDEN: 'The request needs a client certificate naming a Service, or the certificate names another identity than the one the request is for (a proxy may speak only for its own Service).',
  WEFT_CTL_TOO_MANY: 'The instance registry is full (in total or for this Service); the registration was refused.',
  WEFT_CTL_WEBHOOK_SIGNATURE: 'A webhook request has a missing or wrong X-Hub-Signature-256, or the controller has no --webhook-secret (required unless --insecure).',
  WEFT_CTL_FLEET_FULL: 'The proxy table is full; the proxy is served but not recorded.',
  WEFT_CTL_INSECURE: 'The controller was started without --ca-dir and without --insecure.',
  WEFT_CTL_TOKEN_LEDGER: 'The record of used join tokens cannot be read or written; no token is accepted until it can.',
} as const;

export type ControllerErrorCode = keyof typeof CONTROLLER_ERROR_CODES;

/** ControllerError carries a stable `code`; its message is one line, fit for a log or a terminal. */
export class ControllerError extends WeftError {
  override name = 'ControllerError';
  declare readonly code: ControllerErrorCode;
  constructor(code: ControllerErrorCode, message: string) {
    super(code, message, 500);
  }
}

export { messageOf } from '../errors.js';
