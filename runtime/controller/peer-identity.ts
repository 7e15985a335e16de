import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { IdentityError } from '../identity/errors.js';
import type { TrustBundle } from '../identity/trust-bundle.js';
import { verifyLeaf, type VerifiedLeaf } from '../identity/verify-leaf.js';

/**
 * Peer identity on the controller's TLS listener. The listener asks every client for a
 * certificate but lets a client without one finish the handshake (a bootstrapping proxy has
 * none yet); each connection's certificate is checked once, when the handshake completes
 * (verifyLeaf: chain, time, exactly one SPIFFE URI SAN in the trust domain), and the verdict is
 * kept with the socket. Routes then ask `peerIdentity(req)` (null: no valid certificate) or
 * `authenticatePeer(req)` (throws why). Expiry is re-checked on every request, so a long-lived
 * keep-alive connection does not outlive its certificate.
 */

const verdicts = new WeakMap<Socket, VerifiedLeaf | IdentityError>();

/**
 * notePeer checks the certificate of a just-established TLS connection and remembers the
 * verdict; answers true when the connection carries a valid mesh certificate.
 */
export function notePeer(socket: TLSSocket, bundle: TrustBundle, now = new Date()): boolean {
  const cert = socket.getPeerX509Certificate();
  if (!cert) {
    verdicts.set(socket, new IdentityError('WEFT_ID_CERT_MISSING', 'this route needs a client certificate from the mesh CA', 401));
    return false;
  }
  try {
    const leaf = verifyLeaf(bundle, cert, [], now);
    // OpenSSL's own verdict too (it also refuses what the mesh check does not look at, such as
    // duplicate extensions); the listener lets unverified clients connect, so it is checked here.
    if (!socket.authorized) throw new IdentityError('WEFT_ID_CERT_CHAIN', `the client certificate does not verify: ${String(socket.authorizationError ?? 'unknown reason')}`);
    verdicts.set(socket, leaf);
    return true;
  } catch (err) {
    verdicts.set(socket, err instanceof IdentityError ? err : new IdentityError('WEFT_ID_CERT', (err as Error).message));
    return false;
  }
}

/**
 * authenticatePeer is the verified identity of the client certificate `req` came with; throws
 * IdentityError (WEFT_ID_CERT_MISSING 401 without one, a 403 code for one that failed).
 */
export function authenticatePeer(req: IncomingMessage, now = new Date()): VerifiedLeaf {
  const v = verdicts.get(req.socket);
  if (v === undefined) throw new IdentityError('WEFT_ID_CERT_MISSING', 'this route needs mTLS with a client certificate from the mesh CA', 401);
  if (v instanceof IdentityError) throw v;
  if (now.getTime() > v.notAfter.getTime()) throw new IdentityError('WEFT_ID_CERT_EXPIRED', `the client certificate expired at ${v.notAfter.toISOString()}`);
  return v;
}

/** peerIdentity is authenticatePeer without the reason: the verified identity, or null. */
export function peerIdentity(req: IncomingMessage, now = new Date()): VerifiedLeaf | null {
  try {
    return authenticatePeer(req, now);
  } catch {
    return null;
  }
}
