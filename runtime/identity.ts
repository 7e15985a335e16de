/**
 * Caller identity: who is calling, as the inbound side knows it. Every policy that asks "who"
 * (authorization, rate limits keyed by caller, access logs) goes through CallerIdentity, so the
 * policies read it the same way whether it came from the peer's mTLS certificate (its SPIFFE ID)
 * or from the `weft-source` header of a trusted peer (--insecure meshes: NOT cryptographic).
 */
export interface CallerIdentity {
  /** Calling Service name. */
  readonly service: string;
  /** Calling Service namespace. */
  readonly namespace: string;
  /** How the identity was established: 'mtls' (the peer certificate) or 'header' (weft-source, not cryptographic). */
  readonly source: 'header' | 'mtls';
  /** SPIFFE ID, `spiffe://<trust-domain>/ns/<namespace>/sa/<service>` (with 'header', derived from the claimed name). */
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
