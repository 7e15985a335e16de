/**
 * Caller identity: who is calling, as the inbound side knows it. Every policy that asks "who"
 * (authorization, rate limits keyed by caller, access logs) goes through CallerIdentity, so the
 * source can change from today's `weft-source` header (trusted only from mesh peers, NOT
 * cryptographic) to mTLS SPIFFE identities without touching the policies.
 */
export interface CallerIdentity {
  /** Calling Service name. */
  readonly service: string;
  /** Calling Service namespace. */
  readonly namespace: string;
  /** How the identity was established: 'header' today; 'mtls' when SPIFFE identities arrive. */
  readonly source: 'header' | 'mtls';
  /** SPIFFE-style id, `spiffe://<trust-domain>/ns/<namespace>/sa/<service>` (informational until mTLS). */
  readonly uri: string;
}

/** IdentityProvider establishes the caller of an inbound request, or null when unknown. */
export interface IdentityProvider<Req> {
  identify(req: Req): CallerIdentity | null;
}

/** identityOf builds a CallerIdentity for a Service. */
export function identityOf(service: string, namespace: string, source: CallerIdentity['source'], trustDomain = 'cluster.local'): CallerIdentity {
  return Object.freeze({ service, namespace, source, uri: `spiffe://${trustDomain}/ns/${namespace}/sa/${service}` });
}
