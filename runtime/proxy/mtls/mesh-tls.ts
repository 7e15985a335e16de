import { createHash, X509Certificate, constants as cryptoConstants } from 'node:crypto';
import type { Socket } from 'node:net';
import { createSecureContext, createServer as createTlsServer, type DetailedPeerCertificate, type PeerCertificate, type SecureContext, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { buildConnector, type Connector } from '../../undici.js';
import { identityOf, type CallerIdentity } from '../../identity.js';
import { IdentityError } from '../../identity/errors.js';
import { workloadId } from '../../identity/spiffe-id.js';
import type { TlsClientCredentials, TlsClientIdentity } from '../../identity/tls-client-identity.js';
import { verifyLeaf } from '../../identity/verify-leaf.js';
import type { CertificateSource } from './certificate-source.js';
import type { ProtocolDispatcher, TlsBranch } from '../protocol-dispatch.js';
import type { MtlsMetrics } from './mtls-metrics.js';
import type { WorkloadCertificate } from './workload-certificate.js';

/**
 * MeshTls is the proxy's TLS layer, built from its CertificateSource:
 * - ONE server context and ONE client context per certificate, built when the certificate arrives
 *   (undici would otherwise build a context per connection: +1.3 ms a handshake);
 * - inbound: the listener's dispatcher hands sockets whose first byte is a TLS record (0x16) to
 *   an unlistened tls.Server (`tlsBranch`); it requires a client certificate chaining to the trust
 *   bundle, then the mesh's own leaf check (exactly one SPIFFE URI SAN in the trust domain, in the
 *   workload form) runs once per connection and the verified peer is pinned on the socket;
 * - outbound: undici connectors that present the SVID and accept a server only when its leaf names
 *   the SPIFFE ID of the Service the endpoint was chosen for.
 * Rotation: `server.setSecureContext()` and new connectors; connections already open keep their
 * TLS session and are not disturbed. Session resumption is off both ways (the server issues no
 * tickets, clients cache no sessions): a resumed session skips the client's server-identity check
 * and shows no peer certificate, and pools stay warm, so full handshakes are rare anyway.
 */
export class MeshTls implements TlsClientIdentity {
  private gen: Generation;
  private generation = 1;
  private readonly rotateListeners: (() => void)[] = [];
  /** One unlistened tls.Server per listener (its dispatcher): rotation swaps each one's context. */
  private readonly servers = new Map<ProtocolDispatcher, TlsServer>();
  /** Verified peers by certificate hash: a reconnecting peer is not re-verified (bounded; cleared on rotation). */
  private readonly peers = new Map<string, VerifiedPeer>();

  /**
   * @param source started: `current()` must hold a certificate.
   * @param alpn the protocols the inbound side offers, preferred first.
   */
  constructor(
    private readonly source: CertificateSource,
    readonly metrics: MtlsMetrics,
    private readonly alpn: readonly string[] = ['h2', 'http/1.1'],
  ) {
    const first = source.current();
    if (!first) throw new IdentityError('WEFT_ID_CERT_MISSING', 'the certificate source has no certificate yet');
    this.gen = this.build(first);
    metrics.expiry.set(first.leaf.notAfter.getTime() / 1000);
    source.onRotate((c) => this.rotate(c));
  }

  /**
   * tlsBranch is the listener dispatcher's TLS branch: the socket (first byte 0x16, still
   * buffered) goes through a TLS server that requires a client certificate chaining to the trust
   * bundle; then the mesh's leaf check runs, the verified peer is pinned on the socket, and the
   * socket is handed back by ALPN. A peer that fails either check is disconnected.
   */
  tlsBranch(): TlsBranch {
    return (socket, dispatcher) => {
      let server = this.servers.get(dispatcher);
      if (!server) {
        server = this.createServer(dispatcher);
        this.servers.set(dispatcher, server);
      }
      server.emit('connection', socket);
    };
  }

  private createServer(dispatcher: ProtocolDispatcher): TlsServer {
    const server = createTlsServer({
      ...serverOptions(this.gen.cert),
      requestCert: true,
      rejectUnauthorized: true,
      ALPNProtocols: [...this.alpn],
      // No tickets: with no client session cache either, every connection is a full handshake
      // that shows the peer's certificate. Keep-alive makes handshakes rare.
      secureOptions: cryptoConstants.SSL_OP_NO_TICKET,
      handshakeTimeout: 10_000,
    });
    server.on('tlsClientError', (err: Error & { code?: string }, sock: TLSSocket) => {
      this.metrics.handshakes.inc({ direction: 'inbound', result: err.code ?? 'error' });
      sock.destroy();
    });
    server.on('secureConnection', (sock: TLSSocket) => {
      if (!this.verifyPeer(sock)) {
        sock.destroy();
        return;
      }
      dispatcher.handOff(sock, sock.alpnProtocol === 'h2' ? 'h2' : 'http/1.1');
    });
    return server;
  }

  /** certificate is the workload certificate in force. */
  get certificate(): WorkloadCertificate {
    return this.gen.cert;
  }

  /** trustDomain of the mesh (the trust bundle's). */
  get trustDomain(): string {
    return this.gen.cert.trustBundle.trustDomain;
  }

  /** current implements TlsClientIdentity (the controller client presents the same SVID). */
  current(): TlsClientCredentials {
    return { secureContext: this.gen.client, generation: this.generation };
  }

  /** onRotate registers a listener called after each certificate change (contexts already rebuilt). */
  onRotate(listener: () => void): void {
    this.rotateListeners.push(listener);
  }

  /** serviceIdentity is the SPIFFE ID of Service `namespace/name` in this mesh. */
  serviceIdentity(namespace: string, name: string): string {
    return workloadId(this.gen.cert.trustBundle.trustDomain, namespace, name).uri;
  }

  /**
   * verifyPeer runs the mesh's leaf check on a TLS socket whose handshake OpenSSL accepted and
   * pins the result on it; returns null (and counts why) when the peer must be refused.
   */
  verifyPeer(sock: TLSSocket): VerifiedPeer | null {
    let peer: VerifiedPeer | undefined;
    try {
      const detailed = sock.getPeerCertificate(true);
      if (!detailed || !detailed.raw) throw new IdentityError('WEFT_ID_CERT_MISSING', 'the peer presented no certificate');
      const hash = createHash('sha256').update(detailed.raw).digest('hex');
      peer = this.peers.get(hash);
      if (!peer || peer.notAfter <= Date.now()) {
        const leaf = verifyLeaf(this.gen.cert.trustBundle, detailed.raw, chainOf(detailed));
        if (!leaf.workload) throw new IdentityError('WEFT_ID_CERT_SAN', `${leaf.id.uri} is not a workload identity (spiffe://<td>/ns/<namespace>/sa/<service>)`);
        peer = Object.freeze({ identity: identityOf(leaf.workload.service, leaf.workload.namespace, 'mtls', leaf.id.trustDomain), hash, notAfter: leaf.notAfter.getTime(), callerKey: `${leaf.workload.namespace}/${leaf.workload.service}` });
        if (this.peers.size >= 1024) this.peers.clear();
        this.peers.set(hash, peer);
      }
    } catch (err) {
      this.metrics.handshakes.inc({ direction: 'inbound', result: (err as { code?: string }).code ?? 'error' });
      return null;
    }
    this.metrics.handshakes.inc({ direction: 'inbound', result: 'ok' });
    (sock as TLSSocket & { [PEER]?: VerifiedPeer })[PEER] = peer;
    return peer;
  }

  /**
   * connector is an undici `connect` function for endpoints of the Service whose SPIFFE ID is
   * `expected`. Each new connection takes the contexts in force when it opens.
   */
  connector(expected: string, opts: { allowH2?: boolean } = {}): Connector {
    const allowH2 = opts.allowH2 ?? false;
    return (o, cb) => this.connectorFor(expected, allowH2)(o, cb);
  }

  /**
   * h2ClientOptions are the node:http2 TLS options for a session to endpoints of the Service
   * whose SPIFFE ID is `expected` (proxy-to-proxy HTTP/2, h2-sessions.ts): the current client
   * context and the same server identity check as `connector`. Taken when a session opens;
   * PoolSet.recycleMeshed closes sessions on rotation.
   */
  h2ClientOptions(expected: string): { secureContext: SecureContext; checkServerIdentity: (host: string, cert: PeerCertificate) => Error | undefined } {
    const gen = this.gen;
    return {
      secureContext: gen.client,
      checkServerIdentity: (_host, cert) => {
        // Called once per full handshake (no session is offered): count it here, as the undici connector does.
        const err = this.checkServer(gen, expected, cert as DetailedPeerCertificate);
        this.metrics.handshakes.inc({ direction: 'outbound', result: err ? 'WEFT_UPSTREAM_IDENTITY' : 'ok' });
        return err;
      },
    };
  }

  private connectorFor(expected: string, allowH2: boolean): Connector {
    const key = `${allowH2 ? 'h2' : 'h1'} ${expected}`;
    let c = this.gen.connectors.get(key);
    if (!c) {
      const gen = this.gen;
      const base = buildConnector({
        allowH2,
        secureContext: gen.client,
        maxCachedSessions: 0,
        timeout: 10_000,
        checkServerIdentity: (_host: string, cert: PeerCertificate) => this.checkServer(gen, expected, cert as DetailedPeerCertificate),
      });
      c = (opts, cb) =>
        base(opts, (err, sock) => {
          this.metrics.handshakes.inc({ direction: 'outbound', result: err ? ((err as { code?: string }).code ?? 'error') : 'ok' });
          if (err) cb(err, null);
          else cb(null, sock!);
        });
      gen.connectors.set(key, c);
    }
    return c;
  }

  private checkServer(gen: Generation, expected: string, cert: DetailedPeerCertificate): Error | undefined {
    try {
      if (!cert || !cert.raw) throw new IdentityError('WEFT_ID_CERT_MISSING', 'the endpoint presented no certificate');
      const leaf = verifyLeaf(gen.cert.trustBundle, cert.raw, chainOf(cert));
      if (leaf.id.uri === expected) return undefined;
      return Object.assign(new Error(`the endpoint's certificate names ${leaf.id.uri}, not ${expected}`), { code: 'WEFT_UPSTREAM_IDENTITY' });
    } catch (err) {
      return Object.assign(new Error(`the endpoint's certificate is not acceptable: ${(err as Error).message}`), { code: 'WEFT_UPSTREAM_IDENTITY' });
    }
  }

  private build(cert: WorkloadCertificate): Generation {
    const client = createSecureContext({ key: cert.keyPem, cert: cert.certPem, ca: cert.trustBundle.pem, minVersion: 'TLSv1.2' });
    return { cert, client, connectors: new Map() };
  }

  private rotate(cert: WorkloadCertificate): void {
    this.gen = this.build(cert);
    this.generation++;
    this.peers.clear();
    for (const server of this.servers.values()) server.setSecureContext(serverOptions(cert));
    this.metrics.rotations.inc();
    this.metrics.expiry.set(cert.leaf.notAfter.getTime() / 1000);
    for (const l of this.rotateListeners) l();
  }
}

/** VerifiedPeer is a caller proven by its certificate, pinned on its connection. */
export interface VerifiedPeer {
  readonly identity: CallerIdentity;
  /** SHA-256 of the peer certificate's DER, hex (XFCC `Hash`). */
  readonly hash: string;
  /** The certificate's notAfter, epoch ms. */
  readonly notAfter: number;
  /** `namespace/service`, the metrics label. */
  readonly callerKey: string;
}

const PEER = Symbol('weft.verifiedPeer');

/**
 * peerOf is the verified peer of a connection, or null for plaintext. Read through the socket the
 * request arrived on (HTTP/2's compatibility socket forwards property reads to the TLS socket).
 */
export function peerOf(socket: Socket | null | undefined): VerifiedPeer | null {
  return (socket as (Socket & { [PEER]?: VerifiedPeer }) | null | undefined)?.[PEER] ?? null;
}

interface Generation {
  readonly cert: WorkloadCertificate;
  readonly client: SecureContext;
  /** One connector per (ALPN offer, expected server identity), for this certificate. */
  readonly connectors: Map<string, Connector>;
}

function serverOptions(cert: WorkloadCertificate): { key: string; cert: string; ca: string; minVersion: 'TLSv1.2' } {
  return { key: cert.keyPem, cert: cert.certPem, ca: cert.trustBundle.pem, minVersion: 'TLSv1.2' };
}

/** chainOf lists the DER of the certificates the peer sent after its leaf (intermediates, maybe the root). */
function chainOf(cert: DetailedPeerCertificate): Buffer[] {
  const out: Buffer[] = [];
  const seen = new Set<DetailedPeerCertificate>([cert]);
  let c = cert.issuerCertificate;
  while (c && !seen.has(c) && out.length < 8) {
    seen.add(c);
    out.push(c.raw);
    c = c.issuerCertificate;
  }
  return out;
}

/** certificateExpiry: ms until the certificate's notAfter (negative when expired). */
export function certificateExpiry(cert: WorkloadCertificate, now = Date.now()): number {
  return cert.leaf.notAfter.getTime() - now;
}

/** x509Of parses PEM (tests, status pages). */
export function x509Of(pem: string): X509Certificate {
  return new X509Certificate(pem);
}
