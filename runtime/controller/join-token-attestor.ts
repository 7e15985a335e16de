import type { Attestation, Attestor } from '../identity/attestor.js';
import type { MeshCa } from '../identity/ca.js';
import { verifyJoinToken } from '../identity/join-token.js';
import type { TokenLedger } from './token-ledger.js';

/**
 * JoinTokenAttestor accepts `weft token create` tokens: signed by this controller's CA, not
 * expired, bound to a workload identity in its trust domain, with a use left in the ledger
 * (spent before it resolves).
 */
export class JoinTokenAttestor implements Attestor {
  readonly tokenType = 'join_token';

  constructor(
    private readonly ca: MeshCa,
    private readonly ledger: TokenLedger,
  ) {}

  async verify(credential: string, now: Date): Promise<Attestation> {
    const claims = verifyJoinToken(credential, this.ca.key.publicKey, this.ca.trustDomain, now);
    await this.ledger.check(claims, now);
    return { identity: claims.identity, ref: `join_token:${claims.id.slice(0, 8)}` };
  }

  async attest(credential: string, now: Date): Promise<Attestation> {
    const claims = verifyJoinToken(credential, this.ca.key.publicKey, this.ca.trustDomain, now);
    await this.ledger.consume(claims, now);
    return { identity: claims.identity, ref: `join_token:${claims.id.slice(0, 8)}` };
  }
}
