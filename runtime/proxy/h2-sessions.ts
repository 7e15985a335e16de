import { connect, constants, type ClientHttp2Session, type ClientHttp2Stream, type ClientSessionRequestOptions, type OutgoingHttpHeaders, type SecureClientSessionOptions } from 'node:http2';
import type { SecureContext } from 'node:tls';

/**
 * H2SessionSet keeps one multiplexed HTTP/2 client session per upstream origin (node:http2), as
 * Linkerd does between its proxies: every request to a peer proxy (and to an app whose port says
 * `appProtocol: kubernetes.io/h2c`, and every gRPC call) is a stream on that one connection.
 *
 * A session that closes, errors or receives GOAWAY is forgotten at once; the next request opens a
 * fresh one (streams already open on a GOAWAYed session finish on it). A session with no open
 * stream for `idleTimeoutMs` (default UPSTREAM_IDLE_TIMEOUT_MS, 4 s, as the HTTP/1.1 pools) is
 * closed: streams are counted, not frames, so a quiet long-lived stream (a gRPC watch) keeps its
 * session, and a session whose streams were all aborted or finished goes away. Sessions are keyed like the undici pools (PoolSet.keyFor):
 * `http://host:port` is h2c with prior knowledge; `https://host:port#<SPIFFE ID>` (a meshed
 * endpoint when the proxy has an identity) is mTLS with ALPN `h2`, the options coming from `tls`
 * (the mesh certificate source, which also checks the server's identity).
 */
export interface H2SessionOptions {
  /** TLS options for a session to the Service whose SPIFFE ID is `expected`. Called once per new session. */
  readonly tls?: ((expected: string) => SecureClientSessionOptions & { secureContext: SecureContext }) | undefined;
  /** A session with no open stream for this long is closed (ms; default UPSTREAM_IDLE_TIMEOUT_MS). */
  readonly idleTimeoutMs?: number;
  /** Streams one session may carry at once before the peer's SETTINGS say otherwise. */
  readonly maxConcurrentStreams?: number;
}

/**
 * UPSTREAM_IDLE_TIMEOUT_MS is how long an upstream connection with nothing in flight is kept: an
 * undici pool's idle socket (whatever longer `Keep-Alive: timeout` the upstream announces), an
 * HTTP/2 session with no open stream. Below Node's 5 s server keep-alive, so the proxy closes
 * first and never sends on a socket the upstream is closing.
 */
export const UPSTREAM_IDLE_TIMEOUT_MS = 4_000;

/** Tracked is a session with its open-stream count and idle timer. */
interface Tracked {
  open: number;
  idle: NodeJS.Timeout | null;
}

export class H2SessionSet {
  private readonly sessions = new Map<string, ClientHttp2Session>();
  private readonly tracked = new WeakMap<ClientHttp2Session, Tracked>();
  constructor(private readonly opts: H2SessionOptions = {}) {}

  /**
   * request opens a stream on the session for `key` (connecting on first use) and counts it
   * open until it closes; the session's idle timer runs only while no stream is open. Throws as
   * ClientHttp2Session.request does (a session already closing, no TLS identity for an https key).
   */
  request(key: string, headers: OutgoingHttpHeaders, options: ClientSessionRequestOptions): ClientHttp2Stream {
    const session = this.session(key);
    const stream = session.request(headers, options);
    const t = this.tracked.get(session);
    if (t) {
      t.open++;
      if (t.idle) {
        clearTimeout(t.idle);
        t.idle = null;
      }
      stream.once('close', () => {
        if (--t.open === 0) this.armIdle(key, session, t);
      });
    }
    return stream;
  }

  /** armIdle closes `session` (gracefully) once it has had no open stream for the idle timeout. */
  private armIdle(key: string, session: ClientHttp2Session, t: Tracked): void {
    if (session.closed || session.destroyed) return;
    t.idle = setTimeout(() => {
      t.idle = null;
      if (t.open > 0) return;
      if (this.sessions.get(key) === session) this.sessions.delete(key);
      session.close();
    }, this.opts.idleTimeoutMs ?? UPSTREAM_IDLE_TIMEOUT_MS);
    t.idle.unref();
  }

  /**
   * session returns the live session to `authority` (`host:port`), connecting on first use. The
   * connection is lazy: errors (refused, reset) surface on the first stream's 'error' event.
   */
  private session(key: string): ClientHttp2Session {
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
    const t: Tracked = { open: 0, idle: null };
    const forget = (): void => {
      if (this.sessions.get(key) === created) this.sessions.delete(key);
    };
    created.on('error', forget);
    created.on('close', () => {
      forget();
      if (t.idle) clearTimeout(t.idle);
    });
    created.on('goaway', forget);
    created.unref();
    this.tracked.set(created, t);
    this.sessions.set(key, created);
    // A session that never carries a stream (its first request threw) is idle from the start.
    this.armIdle(key, created, t);
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
