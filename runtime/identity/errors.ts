import { WeftError, type RuntimeCode } from '../errors.js';

/**
 * IdentityError is every failure of the identity library: SPIFFE IDs, the mesh CA, CSRs, leaf
 * verification and join tokens. Codes are stable: the controller answers them in
 * `{error: {code, message}}`, proxies log them, and docs/identity.md lists them.
 */

/** IdentityErrorCode: the identity codes of RUNTIME_ERRORS (runtime/errors.ts). */
export type IdentityErrorCode = Extract<RuntimeCode, `WEFT_ID_${string}`>;

/** IdentityError carries a stable `code`; its message is one line. `status` is what an HTTP caller gets. */
export class IdentityError extends WeftError {
  override name = 'IdentityError';
  declare readonly code: IdentityErrorCode;
  constructor(code: IdentityErrorCode, message: string, status = 403) {
    super(code, message, status);
  }
}
