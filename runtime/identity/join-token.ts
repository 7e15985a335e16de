import { randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import type { MeshCa } from './ca.js';
import { IdentityError } from './errors.js';
import { isControllerId, parseWorkloadId, type WorkloadId } from './spiffe-id.js';

/**
 * Join tokens: how a proxy proves, once, who it is before it has a certificate. A token is
 * `wjt1.<payload>.<signature>`: the payload is base64url JSON `{v: 1, jti, sub, iat, exp, uses}`
 * (`sub` the SPIFFE ID the token is bound to, times in epoch seconds), the signature ECDSA P-256
 * SHA-256 (IEEE P1363 form) by the CA key over `wjt1.<payload>`. Anyone holding the CA
 * certificate can check a token; only the CA key can make one. How often it has been used is
 * not in the token: the controller counts uses per `jti` (runtime/controller/token-ledger.ts).
 */

/** JOIN_TOKEN_PREFIX versions the format. */
export const JOIN_TOKEN_PREFIX = 'wjt1';
/** MAX_JOIN_TOKEN_BYTES bounds a token accepted for parsing. */
export const MAX_JOIN_TOKEN_BYTES = 4096;
/** DEFAULT_JOIN_TOKEN_TTL_MS: one hour. */
export const DEFAULT_JOIN_TOKEN_TTL_MS = 3600_000;

/** JoinTokenClaims is a verified token: its id, the identity it grants, expiry and use count. */
export interface JoinTokenClaims {
  /** Random id (hex), the key of the controller's use ledger. */
  readonly id: string;
  readonly identity: WorkloadId;
  readonly issuedAt: Date;
  readonly expiresAt: Date;
  /** How many certificates the token may bootstrap (≥ 1). */
  readonly uses: number;
}

interface Payload {
  v: 1;
  jti: string;
  sub: string;
  iat: number;
  exp: number;
  uses: number;
}

/** createJoinToken signs a token for `identity` with the CA key; `ttlMs` default 1 h, `uses` default 1. */
export function createJoinToken(ca: MeshCa, identity: WorkloadId, opts: { ttlMs?: number; uses?: number; now?: Date } = {}): { token: string; claims: JoinTokenClaims } {
  if (identity.trustDomain !== ca.trustDomain) throw new IdentityError('WEFT_ID_TRUST_DOMAIN', `${identity.uri} is not in the CA's trust domain ${ca.trustDomain}`, 400);
  if (isControllerId(identity)) throw new IdentityError('WEFT_ID_SPIFFE_ID', `${identity.uri} is the controller's own identity: proxies trust the control channel by it, so no workload may hold it`, 400);
  const uses = opts.uses ?? 1;
  const ttl = opts.ttlMs ?? DEFAULT_JOIN_TOKEN_TTL_MS;
  if (!Number.isInteger(uses) || uses < 1) throw new IdentityError('WEFT_ID_TOKEN', `uses must be a whole number ≥ 1, got ${uses}`, 400);
  if (!(ttl >= 1000)) throw new IdentityError('WEFT_ID_TOKEN', `a token must live at least 1s, got ${ttl} ms`, 400);
  const now = Math.floor((opts.now ?? new Date()).getTime() / 1000);
  const payload: Payload = { v: 1, jti: randomBytes(16).toString('hex'), sub: identity.uri, iat: now, exp: now + Math.ceil(ttl / 1000), uses };
  const body = `${JOIN_TOKEN_PREFIX}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  const sig = sign('sha256', Buffer.from(body), { key: ca.key.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url');
  return { token: `${body}.${sig}`, claims: claimsOf(payload, identity) };
}

function claimsOf(p: Payload, identity: WorkloadId): JoinTokenClaims {
  return Object.freeze({ id: p.jti, identity, issuedAt: new Date(p.iat * 1000), expiresAt: new Date(p.exp * 1000), uses: p.uses });
}

/**
 * verifyJoinToken checks a token's form, its signature against `caPublicKey`, its trust domain and
 * expiry. Uses are not counted here. Throws IdentityError WEFT_ID_TOKEN or WEFT_ID_TOKEN_EXPIRED.
 */
export function verifyJoinToken(token: string, caPublicKey: KeyObject, trustDomain: string, now = new Date()): JoinTokenClaims {
  const bad = (why: string): IdentityError => new IdentityError('WEFT_ID_TOKEN', `join token refused: ${why}`, 401);
  const t = token.trim();
  if (t.length > MAX_JOIN_TOKEN_BYTES) throw bad('too long');
  const parts = t.split('.');
  if (parts.length !== 3 || parts[0] !== JOIN_TOKEN_PREFIX || !/^[A-Za-z0-9_-]+$/.test(parts[1]!) || !/^[A-Za-z0-9_-]+$/.test(parts[2]!)) throw bad(`not a ${JOIN_TOKEN_PREFIX} token`);
  let ok = false;
  try {
    ok = verify('sha256', Buffer.from(`${parts[0]}.${parts[1]}`), { key: caPublicKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(parts[2]!, 'base64url'));
  } catch {
    ok = false;
  }
  if (!ok) throw bad('not signed by this mesh CA');
  let p: Payload;
  try {
    p = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as Payload;
  } catch {
    throw bad('payload is not JSON');
  }
  if (p?.v !== 1 || typeof p.jti !== 'string' || !/^[0-9a-f]{32}$/.test(p.jti) || typeof p.sub !== 'string' || !Number.isInteger(p.iat) || !Number.isInteger(p.exp) || !Number.isInteger(p.uses) || p.uses < 1) {
    throw bad('payload fields are missing or malformed');
  }
  let identity: WorkloadId;
  try {
    identity = parseWorkloadId(p.sub, trustDomain);
  } catch (err) {
    throw bad((err as Error).message);
  }
  // Refused before any use is counted: holding this identity would let a workload serve the control channel.
  if (isControllerId(identity)) throw bad(`${identity.uri} is the controller's own identity, never issued to a workload`);
  if (now.getTime() >= p.exp * 1000) throw new IdentityError('WEFT_ID_TOKEN_EXPIRED', `join token ${p.jti.slice(0, 8)} expired at ${new Date(p.exp * 1000).toISOString()}`, 401);
  return claimsOf(p, identity);
}
