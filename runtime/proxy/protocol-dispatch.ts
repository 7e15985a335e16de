import type { Server as Http1Server } from 'node:http';
import type { Http2Server } from 'node:http2';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/**
 * Protocol dispatch: one listening port, several protocols. Each accepted connection is sniffed
 * by its first bytes and handed to the server that speaks it, so every protocol feeds the same
 * request pipeline (the protocol is the listener's concern; an Exchange never cares):
 *
 *  - the HTTP/2 connection preface `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n` (RFC 9113 §3.4, "prior
 *    knowledge" h2c): the node:http2 server;
 *  - a first byte 0x16 (a TLS handshake record): the `tls` branch, when one is installed; after
 *    the handshake it calls `handOff` with the ALPN result (`h2` or `http/1.1`);
 *  - anything else: the node:http (HTTP/1.1) server, whose strict llhttp parser refuses what is
 *    not HTTP.
 *
 * Sniffing reads at most 24 bytes and stops at the first byte that differs from the preface, so
 * an HTTP/1.1 request line is recognised after one byte in practice. The bytes read are put back
 * (`unshift`) before the hand-off: node:http reads them from the stream buffer, node:http2 feeds
 * buffered bytes to its session on creation.
 */

/** H2_PREFACE is the client connection preface of HTTP/2 (RFC 9113 §3.4). */
export const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** TLS_HANDSHAKE is the content type byte of a TLS handshake record (RFC 8446 §5.1). */
export const TLS_HANDSHAKE = 0x16;

/** Negotiated is what a connection speaks once identified. */
export type Negotiated = 'http/1.1' | 'h2';

/**
 * TlsBranch terminates TLS on a socket whose first byte was 0x16 (the byte is back in the
 * socket's buffer) and then calls `dispatcher.handOff(tlsSocket, alpn)`. Installed by the
 * identity code (inbound mTLS); without one, TLS connections are closed.
 */
export type TlsBranch = (socket: Socket, dispatcher: ProtocolDispatcher) => void;

/** DispatchOptions bound the sniffing phase. */
export interface DispatchOptions {
  /** A connection that sends fewer bytes than needed within this time is closed (ms; default 10 s; 0: no limit). */
  readonly sniffTimeoutMs?: number;
}

/**
 * ProtocolDispatcher owns the listening `server` (a net.Server) for one listener and hands each
 * connection to `http1` or `http2`. `tls` may be set at any time (new connections see it).
 */
export class ProtocolDispatcher {
  /** The listening socket server; `maxConnections` and `listen` go here. */
  readonly server: NetServer;
  /** TLS termination branch (H4 installs it); null: TLS connections are refused (closed). */
  tls: TlsBranch | null = null;
  /** False (mTLS STRICT): connections that do not start with a TLS handshake are closed. */
  acceptPlaintext = true;
  /**
   * A connection whose first bytes (up to the whole HTTP/2 preface) have not arrived within this
   * many ms is closed; 0: no limit. The listener sets it to requestHeadersTimeout on every reload
   * (the preface is part of what a client must send before its request head).
   */
  sniffTimeoutMs: number;

  constructor(
    readonly http1: Http1Server,
    readonly http2: Http2Server,
    opts: DispatchOptions = {},
  ) {
    this.sniffTimeoutMs = opts.sniffTimeoutMs ?? 10_000;
    this.server = createNetServer({ noDelay: true }, (socket) => this.sniff(socket));
  }

  /**
   * handOff gives an identified connection to the server for `protocol`. Used by the sniffer and
   * by the TLS branch after its handshake (ALPN decides; no ALPN means HTTP/1.1).
   */
  handOff(socket: Duplex, protocol: Negotiated): void {
    if (protocol === 'h2') {
      // node:http2 reads what is already buffered when its session starts; resuming here would
      // emit those bytes to nobody.
      this.http2.emit('connection', socket);
    } else {
      this.http1.emit('connection', socket);
      socket.resume();
    }
  }

  private sniff(socket: Socket): void {
    let head: Buffer | null = null;
    const timer = this.sniffTimeoutMs > 0 ? setTimeout(() => socket.destroy(), this.sniffTimeoutMs) : undefined;
    const done = (): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
      socket.pause();
    };
    const onError = (): void => {
      clearTimeout(timer);
      socket.destroy();
    };
    const onClose = (): void => clearTimeout(timer);
    const onData = (chunk: Buffer): void => {
      head = head === null ? chunk : Buffer.concat([head, chunk]);
      const kind = classify(head);
      if (kind === 'more') return;
      done();
      socket.unshift(head);
      if (kind !== 'tls' && !this.acceptPlaintext) {
        socket.destroy();
        return;
      }
      if (kind === 'tls') {
        if (this.tls) this.tls(socket, this);
        else socket.destroy();
        return;
      }
      this.handOff(socket, kind);
    };
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
  }

  /** listen binds the port; resolves with the bound address. */
  listen(port: number, host: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }
}

/**
 * classify says what the first bytes of a connection are: `more` while they are a strict prefix
 * of the HTTP/2 preface (and shorter than it), `h2` once the whole preface is there, `tls` for a
 * handshake record, else `http/1.1`.
 */
export function classify(head: Buffer): Negotiated | 'tls' | 'more' {
  if (head.length === 0) return 'more';
  if (head[0] === TLS_HANDSHAKE) return 'tls';
  const n = Math.min(head.length, H2_PREFACE.length);
  for (let i = 0; i < n; i++) if (head[i] !== H2_PREFACE[i]) return 'http/1.1';
  return head.length >= H2_PREFACE.length ? 'h2' : 'more';
}
