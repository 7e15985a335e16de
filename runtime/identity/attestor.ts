import type { WorkloadId } from './spiffe-id.js';

/**
 * Attestor: how the issuer learns who a workload is before it has a certificate. The controller
 * picks one by the `tokenType` of `POST /v1/certificates` and issues exactly the identity the
 * attestor returns (never one the CSR names). Weft ships join tokens (`join_token`); a Kubernetes
 * service-account token reviewer or a SPIRE-style node attestor is one more implementation of this
 * interface, with no change to the issuer or the proxies.
 */
export interface Attestor {
  /** The `tokenType` this attestor reads, e.g. `join_token`. */
  readonly tokenType: string;
  /**
   * verify checks `credential` without spending it: signature, lifetime, binding, and that a use
   * is left. The issuer calls it first, so a request with a bad credential is refused before any
   * costlier work (parsing and checking its CSR). Cheap: no write. Throws IdentityError.
   */
  verify(credential: string, now: Date): Promise<Attestation>;
  /**
   * attest checks `credential` and, when it holds, consumes it (a one-use token is spent here,
   * durably, before it resolves) and returns the identity it grants. Throws IdentityError.
   */
  attest(credential: string, now: Date): Promise<Attestation>;
}

/** Attestation is an accepted credential: the identity it grants and a reference for logs. */
export interface Attestation {
  readonly identity: WorkloadId;
  /** Names the evidence in logs without revealing it, e.g. `join_token:3f2a9c1e`. */
  readonly ref: string;
}
