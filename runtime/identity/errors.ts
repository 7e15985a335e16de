import { WeftError } from '../errors.js';

/**
 * IdentityError is every failure of the identity library: SPIFFE IDs, the mesh CA, CSRs, leaf
 * verification and join tokens. Codes are stable: the controller answers them in
 * `{error: {code, message}}`, proxies log them, and docs/identity.md lists them.
 */
export const IDENTITY_ERROR_CODES = {
  WEFT_ID_SPIFFE_ID: 'A string is not a SPIFFE ID (spiffe://<trust-domain>/<path>), or not the workload form /ns/<namespace>/sa/<service>.',
  WEFT_ID_TRUST_DOMAIN: 'A trust domain name is malformed, or an identity belongs to another trust domain.',
  WEFT_ID_CA: 'The mesh CA files (ca.pem, ca.key) are missing, unreadable, or do not belong together.',
  WEFT_ID_CSR: 'A certificate signing request is malformed, its signature does not verify, or its key is not ECDSA P-256.',
  WEFT_ID_CERT_CHAIN: 'A certificate was not issued by a CA in the trust bundle.',
  WEFT_ID_CERT_EXPIRED: 'A certificate is not valid at this time (expired, or not valid yet).',
  WEFT_ID_CERT_SAN: 'A certificate does not carry exactly one URI SAN that is a SPIFFE ID in the trust domain.',
  WEFT_ID_CERT_MISSING: 'No client certificate was presented where one is required.',
  WEFT_ID_CERT: 'A certificate cannot be parsed, or is a CA certificate where a leaf is required.',
  WEFT_ID_TOKEN: 'A join token is malformed, not signed by the mesh CA, or bound to another trust domain.',
  WEFT_ID_TOKEN_EXPIRED: 'A join token has expired.',
  WEFT_ID_TOKEN_USED: 'A join token has no uses left.',
} as const;

export type IdentityErrorCode = keyof typeof IDENTITY_ERROR_CODES;

/** IdentityError carries a stable `code`; its message is one line. `status` is what an HTTP caller gets. */
export class IdentityError extends WeftError {
  override name = 'IdentityError';
  declare readonly code: IdentityErrorCode;
  constructor(code: IdentityErrorCode, message: string, status = 403) {
    super(code, message, status);
  }
}
