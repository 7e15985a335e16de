import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { SecureContextOptions, TLSSocket } from 'node:tls';
import type { TrustBundle } from '../identity/trust-bundle.js';
import { notePeer } from './peer-identity.js';
import type { Controller } from './controller.js';
import { ControllerError, messageOf } from './errors.js';
import { sendError } from './http.js';
import type { Handler } from './handler.js';
import { ROUTES } from './routes.js';
import type { HostCheck } from '../host-check.js';

/** DEFAULT_MAX_CONNECTIONS is `--max-connections`'s default for the main listener. */
export const DEFAULT_MAX_CONNECTIONS = 10_000;

/** DEFAULT_MAX_UNAUTHENTICATED is `--max-unauthenticated-connections`'s default (TLS listener only). */
export const DEFAULT_MAX_UNAUTHENTICATED = 256;

/**
 * UNAUTHENTICATED_IDLE_MS: a TLS connection without a valid mesh certificate is closed after this
 * long without traffic. Such a client only bootstraps or probes /healthz, one quick request each.
 */
const UNAUTHENTICATED_IDLE_MS = 10_000;

/** ServerTls makes a ControllerServer speak TLS: its credentials and the bundle client certificates are checked against. */
export interface ServerTls {
  readonly credentials: SecureContextOptions;
  readonly bundle: TrustBundle;
}

/** ServerLimits: how many connections a listener holds, and which Host values it answers. */
export interface ServerLimits {
  /** Which listener this is, for the refused-connections metric and log. */
  readonly listener: 'main' | 'dashboard';
  /** Open connections at most; past it new ones are closed at once (node's `maxConnections`). */
  readonly maxConnections: number;
  /**
   * TLS only: of those, connections whose client presented no valid mesh certificate at most
   * (default DEFAULT_MAX_UNAUTHENTICATED). Past it such a connection is closed once its handshake
   * completes, so anonymous clients cannot take the places proxies need.
   */
  readonly maxUnauthenticated?: number;
  /** When set, a request whose Host fails it is answered 421 and nothing else (host-check.ts). */
  readonly hostCheck?: HostCheck;
}

/**
 * ControllerServer serves a route table over HTTP/1.1, or over TLS when given `tls`: then every
 * client is asked for a certificate, a client without one still connects (bootstrap), and each
 * connection's certificate is checked once (peer-identity.ts) for the routes to consult.
 * Timeouts are set for long-polling: idle keep-alive connections outlive the longest
 * `Prefer: wait`, and no per-request socket timeout cuts a held request short.
 *
 * On TLS, connections without a valid certificate (bootstrap, probes) are held apart: their own
 * smaller bound (`maxUnauthenticated`), a 10 s idle timeout and no keep-alive (each gets
 * `Connection: close`). Otherwise anyone who can reach the port could keep every one of the
 * `maxConnections` places busy with certificate-less keep-alive connections and lock out proxies
 * reconnecting or bootstrapping (the separate budget for untrusted downstreams that Envoy's
 * overload manager and per-listener limits give).
 */
/** PIPELINE_MAX_QUEUED: HTTP/1.1 requests a connection may pipeline behind the one being answered (proxies never pipeline). */
const PIPELINE_MAX_QUEUED = 16;

/** QUEUED counts, on a socket, the pipelined requests waiting behind the one being answered. */
const QUEUED = Symbol('weft.pipelined');

export class ControllerServer {
  readonly server: http.Server;
  /** Open TLS connections without a valid mesh certificate, answered with `Connection: close`. */
  private readonly unauthenticated = new WeakSet<Socket>();
  private unauthenticatedOpen = 0;

  constructor(
    private readonly ctl: Controller,
    private readonly routes: ReadonlyMap<string, Handler> = ROUTES,
    tls?: ServerTls,
    private readonly limits: ServerLimits = { listener: 'main', maxConnections: DEFAULT_MAX_CONNECTIONS },
  ) {
    if (tls) {
      // A handshake must finish within 10 s (Node's default is 120 s): half-open TLS connections are cheap to make.
      const s = https.createServer({ ...tls.credentials, requestCert: true, rejectUnauthorized: false, handshakeTimeout: 10_000 }, (req, res) => this.handle(req, res));
      s.on('secureConnection', (socket: TLSSocket) => {
        if (!notePeer(socket, tls.bundle)) this.admitUnauthenticated(socket);
      });
      // A failed handshake (plaintext, wrong protocol) is the client's problem, not a crash.
      s.on('tlsClientError', () => undefined);
      this.server = s;
    } else {
      this.server = http.createServer((req, res) => this.handle(req, res));
    }
    this.server.keepAliveTimeout = ctl.maxWaitMs + 5_000;
    this.server.headersTimeout = 30_000;
    // requestTimeout bounds receiving a request; kept above the longest hold so that no Node
    // version's interpretation can cut a long-poll short.
    this.server.requestTimeout = ctl.maxWaitMs + 30_000;
    this.server.maxHeadersCount = 100;
    // Every proxy holds a connection or three (bundle and endpoint long-polls) for good, so the
    // cap is what keeps a flood of idle connections from exhausting file descriptors. Refusals
    // are counted, and logged at most once a minute.
    this.server.maxConnections = limits.maxConnections;
    let loggedAt = 0;
    this.refused = (reason) => {
      ctl.metrics.connectionsRefused.inc({ listener: limits.listener, reason });
      const now = Date.now();
      if (now - loggedAt < 60_000) return;
      loggedAt = now;
      if (reason === 'pipelining') {
        ctl.log.log('warn', `connection closed: more than ${PIPELINE_MAX_QUEUED} requests pipelined on it`, { listener: limits.listener });
        return;
      }
      const bound = reason === 'max-connections' ? { maxConnections: limits.maxConnections } : { maxUnauthenticated: this.maxUnauthenticated };
      ctl.log.log('warn', `connection refused: the listener holds its maximum${reason === 'max-connections' ? '' : ' of connections without a client certificate'}`, { listener: limits.listener, ...bound });
    };
    this.server.on('drop', () => this.refused('max-connections'));
  }

  private readonly refused: (reason: 'max-connections' | 'max-unauthenticated' | 'pipelining') => void;

  private get maxUnauthenticated(): number {
    return this.limits.maxUnauthenticated ?? DEFAULT_MAX_UNAUTHENTICATED;
  }

  /** admitUnauthenticated holds a certificate-less TLS connection to its own bound and idle timeout, or closes it. */
  private admitUnauthenticated(socket: TLSSocket): void {
    if (this.unauthenticatedOpen >= this.maxUnauthenticated) {
      this.refused('max-unauthenticated');
      socket.destroy();
      return;
    }
    this.unauthenticatedOpen++;
    this.unauthenticated.add(socket);
    socket.once('close', () => this.unauthenticatedOpen--);
    // node:http destroys a socket whose timeout fires when nobody else handles it. No keep-alive
    // (see handle) means node never replaces this timer with keepAliveTimeout.
    socket.setTimeout(UNAUTHENTICATED_IDLE_MS);
  }

  /**
   * handle starts a request now, or — pipelined behind one still being answered on its
   * connection (node:http emits every pipelined request at once and queues only the responses) —
   * when that one is done. Otherwise one connection could hold any number of long-polls: the
   * review of 2026-11-30 held 29,999 bundle long-polls from one mTLS connection (RSS 82 → 181
   * MiB), around --max-connections. More than PIPELINE_MAX_QUEUED queued closes the connection.
   */
  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (res.socket !== null) {
      this.handleNow(req, res);
      return;
    }
    const socket = req.socket as Socket & { [QUEUED]?: number };
    if (socket.destroyed) return;
    const queued = (socket[QUEUED] ?? 0) + 1;
    if (queued > PIPELINE_MAX_QUEUED) {
      this.refused('pipelining');
      socket.destroy();
      return;
    }
    socket[QUEUED] = queued;
    res.once('socket', () => {
      socket[QUEUED] = (socket[QUEUED] ?? 1) - 1;
      this.handleNow(req, res);
    });
  }

  private handleNow(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (this.unauthenticated.has(req.socket)) res.shouldKeepAlive = false;
    if (this.limits.hostCheck && !this.limits.hostCheck(req.headers.host)) {
      res.shouldKeepAlive = false;
      sendError(res, 421, 'WEFT_CTL_MISDIRECTED', `Host "${String(req.headers.host).slice(0, 100)}" is not a name of this listener (add it with --dashboard-host)`);
      return;
    }
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://controller');
    } catch {
      sendError(res, 400, 'WEFT_CTL_BAD_REQUEST', 'bad request target');
      return;
    }
    const handler = this.routes.get(`${req.method} ${url.pathname}`);
    if (!handler) {
      const known = [...this.routes.keys()].some((k) => k.endsWith(` ${url.pathname}`));
      sendError(res, known ? 405 : 404, known ? 'WEFT_CTL_METHOD' : 'WEFT_CTL_NOT_FOUND', `${req.method} ${url.pathname} is not served here`);
      return;
    }
    Promise.resolve()
      .then(() => handler(this.ctl, req, res, url))
      .catch((err: unknown) => {
        if (!res.headersSent) sendError(res, 500, 'WEFT_CTL_INTERNAL', messageOf(err));
        else res.destroy();
      });
  }

  /**
   * setCredentials swaps the serving certificate (renewal): new handshakes use it; connections
   * already open keep theirs. Only for a TLS server.
   */
  setCredentials(credentials: SecureContextOptions): void {
    (this.server as https.Server).setSecureContext(credentials);
  }

  /** listen binds `host:port` (port 0 picks one) and resolves to the address actually bound. */
  listen(host: string, port: number): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(new ControllerError('WEFT_CTL_LISTEN', `cannot listen on ${host}:${port}: ${messageOf(err)}`));
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  /** close stops accepting, ends idle keep-alive connections, and resolves when all are gone. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
      setTimeout(() => this.server.closeAllConnections(), 1000).unref();
    });
  }
}
