import { connect, constants, type ClientHttp2Session, type SecureClientSessionOptions } from 'node:http2';
import type { SecureContext } from 'node:tls';

/**
 * H2SessionSet keeps one multiplexed HTTP/2 client session per upstream origin (node:http2), as
 * Linkerd does between its proxies: every request to a peer proxy (and to an app whose port says
 * `appProtocol: kubernetes.io/h2c`, and every gRPC call) is a stream on that one connection.
 *
 * A session that closes, errors or receives GOAWAY is forgotten at once; the next request opens a
 * fresh one (streams already open on a GOAWAYed session finish on it). Idle sessions close after
 * `idleTimeoutMs` (default 60 s). Sessions are keyed like the undici pools (PoolSet.keyFor):
 * `http://host:port` is h2c with prior knowledge; `https://host:port#<SPIFFE ID>` (a meshed
 * endpoint when the proxy has an identity) is mTLS with ALPN `h2`, the options coming from `tls`
 * (the mesh certificate source, which also checks the server's identity).
 */
export interface H2SessionOptions {
  /** TLS options for a session to the Service whose SPIFFE ID is `expected`. Called once per new session. */
  readonly tls?: ((expected: string) => SecureClientSessionOptions & { secureContext: SecureContext }) | undefined;
  /** A session with no open stream for this long is closed (ms). */
  readonly idleTimeoutMs?: number;
  /** Streams one session may carry at once before the peer's SETTINGS say otherwise. */
  readonly maxConcurrentStreams?: number;
}

export class H2SessionSet {
  private readonly sessions = new Map<string, ClientHttp2Session>();
  constructor(private readonly opts: H2SessionOptions = {}) {}

  /**
   * session returns the live session to `authority` (`host:port`), connecting on first use. The
   * connection is lazy: errors (refused, reset) surface on the first stream's 'error' event.
   */
  session(key: string): ClientHttp2Session {
    const s = this.sessions.get(key);
    if (s && !s.closed && !s.destroyed) return s;
    const hash = key.indexOf('#');
    const secure = key.startsWith('https://');
    let created: ClientHttp2Session;
    if (secure) {
      if (hash < 0 || !this.opts.tls) throw Object.assign(new Error(`no TLS identity to reach ${key}`), { code: 'WEFT_UPSTREAM_IDENTITY' });
      created = connect(key.slice(0, hash), { ...this.opts.tls(key.slice(hash + 1)), ALPNProtocols: ['h2'], settings: { enablePush: false } });
    } else {
      created = connect(key, { settings: { enablePush: false }, peerMaxConcurrentStreams: this.opts.maxConcurrentStreams ?? 1000 });
    }
    const forget = (): void => {
      if (this.sessions.get(key) === created) this.sessions.delete(key);
    };
    created.on('error', forget);
    created.on('close', forget);
    created.on('goaway', forget);
    // An idle session costs a socket on both sides: close it after a quiet period.
    created.setTimeout(this.opts.idleTimeoutMs ?? 60_000, () => created.close());
    created.unref();
    this.sessions.set(key, created);
    return created;
  }

  /** recycleTls closes (gracefully) every mTLS session after a certificate rotation; the next request opens a new one. */
  recycleTls(): void {
    for (const [k, s] of this.sessions) {
      if (!k.startsWith('https://')) continue;
      this.sessions.delete(k);
      s.close();
    }
  }

  /** keys with a live session. */
  keys(): string[] {
    return [...this.sessions.keys()];
  }

  /** retain closes (gracefully: open streams finish) every session whose key is not in `keep`. */
  retain(keep: ReadonlySet<string>): void {
    for (const [a, s] of this.sessions) {
      if (keep.has(a)) continue;
      this.sessions.delete(a);
      s.close();
    }
  }

  /** close closes every session gracefully and waits for them to end (bounded by `graceMs`). */
  async close(graceMs = 5_000): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(
      all.map(
        (s) =>
          new Promise<void>((resolve) => {
            if (s.closed || s.destroyed) return resolve();
            const t = setTimeout(() => {
              s.destroy();
              resolve();
            }, graceMs);
            s.close(() => {
              clearTimeout(t);
              resolve();
            });
          }),
      ),
    );
  }
}

/** NGHTTP2_CANCEL is the RST_STREAM code for a stream the client no longer wants (RFC 9113 §7). */
export const NGHTTP2_CANCEL = constants.NGHTTP2_CANCEL;
