import type { PeerCertificate, SecureContext } from 'node:tls';
import { Agent } from '../undici.js';
import { controllerId } from '../identity/spiffe-id.js';
import { uriSans } from '../identity/verify-leaf.js';

/**
 * controllerDispatcher is an undici Agent that speaks TLS to the controller with one prebuilt
 * secure context (the client's key and certificate, if any, and the trust bundle as `ca`).
 * OpenSSL verifies the chain against the trust bundle; the server's identity is then its SPIFFE
 * ID, not its host name: the controller's certificate must carry exactly one URI SAN, equal to
 * `spiffe://<trustDomain>/ns/weft-system/sa/weft-controller`, however the proxy reaches it (an
 * IP, a Kubernetes Service name, a load balancer). A proxy that bootstraps passes a context with
 * only `ca` (no client certificate yet).
 */
export function controllerDispatcher(secureContext: SecureContext, trustDomain: string, opts: { keepAliveTimeoutMs?: number } = {}): Agent {
  const expected = controllerId(trustDomain).uri;
  return new Agent({
    keepAliveTimeout: opts.keepAliveTimeoutMs ?? 60_000,
    connect: {
      secureContext,
      rejectUnauthorized: true,
      checkServerIdentity: (_host: string, cert: PeerCertificate): Error | undefined => checkControllerIdentity(cert, expected),
    },
  });
}

/** checkControllerIdentity: undefined when `cert` names exactly `expected`, else why not. */
export function checkControllerIdentity(cert: PeerCertificate, expected: string): Error | undefined {
  let uris: string[];
  try {
    uris = cert.raw ? uriSans(cert.raw) : [];
  } catch (err) {
    return err as Error;
  }
  if (uris.length !== 1 || uris[0] !== expected) {
    return new Error(`the controller presented ${uris.length === 0 ? 'no SPIFFE ID' : uris.join(', ')}, expected ${expected}`);
  }
  return undefined;
}
