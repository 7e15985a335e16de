import { connect, constants, type ClientHttp2Session, type ClientHttp2Stream, type ClientSessionRequestOptions, type OutgoingHttpHeaders, type SecureClientSessionOptions } from 'node:http2';
import type { SecureContext } from 'node:tls';

/**
 * H2SessionSet keeps multiplexed HTTP/2 client sessions per upstream origin (node:http2), as
 * Linkerd does between its proxies: every request to a peer proxy (and to an app whose port says
 * `appProtocol: kubernetes.io/h2c`, and every gRPC call) is a stream on one connection — as many
 * connections as the peer's SETTINGS_MAX_CONCURRENT_STREAMS requires, as Envoy's HTTP/2
 * connection pool does: a stream goes on the first session with fewer open streams than the peer
 * allows, and a new session is opened when every one is full (a Weft listener allows
 * H2_MAX_CONCURRENT_STREAMS, 100, per connection). Until a session has the peer's SETTINGS, it
 * assumes what the peer told the key's other session, else 100 (PEER_MAX_CONCURRENT_STREAMS), the
 * least RFC 9113 §6.5.2 recommends, so a burst on a new session is not refused for exceeding a
 * limit not yet known.
 *
 * A session that closes, errors or receives GOAWAY is forgotten at once; the next request opens a
 * fresh one (streams already open on a GOAWAYed session finish on it). A session this side
 * retires (certificate rotation, reload, a refused stream) takes no new stream and is closed only
 * once its last stream has closed: closing it at once would send GOAWAY ahead of streams whose
 * HEADERS are still queued (nghttp2 writes GOAWAY before new streams), and the peer would refuse
 * them. A session with no open stream for `idleTimeoutMs` (default UPSTREAM_IDLE_TIMEOUT_MS, 4 s,
 * as the HTTP/1.1 pools) is closed: streams are counted, not frames, so a quiet long-lived stream
 * (a gRPC watch) keeps its session, and a session whose streams were all aborted or finished goes
 * away. Sessions are keyed like the undici pools (PoolSet.keyFor):
 * `http://host:port` is h2c with prior knowledge; `https://host:port#<SPIFFE ID>` (a meshed
 * endpoint when the proxy has an identity) is mTLS with ALPN `h2`, the options coming from `tls`
 * (the mesh certificate source, which also checks the server's identity).
 */
export interface H2SessionOptions {
  /** TLS options for a session to the Service whose SPIFFE ID is `expected`. Called once per new session. */
  readonly tls?: ((expected: string) => SecureClientSessionOptions & { secureContext: SecureContext }) | undefined;
  /** A session with no open stream for this long is closed (ms; default UPSTREAM_IDLE_TIMEOUT_MS). */
  readonly idleTimeoutMs?: number;
  /** Streams one session may carry at once before the peer's SETTINGS say otherwise (default PEER_MAX_CONCURRENT_STREAMS). */
  readonly maxConcurrentStreams?: number;
}

/**
 * PEER_MAX_CONCURRENT_STREAMS is the concurrent streams a new session assumes its peer allows
 * until the peer's SETTINGS arrive: 100, what RFC 9113 §6.5.2 says a peer should allow at least,
 * gRPC servers and Envoy's edge settings allow, and a Weft listener allows.
 */
export const PEER_MAX_CONCURRENT_STREAMS = 100;

/**
 * UPSTREAM_IDLE_TIMEOUT_MS is how long an upstream connection with nothing in flight is kept: an
 * undici pool's idle socket (whatever longer `Keep-Alive: timeout` the upstream announces), an
 * HTTP/2 session with no open stream. Below Node's 5 s server keep-alive, so the proxy closes
 * first and never sends on a socket the upstream is closing.
 */
export const UPSTREAM_IDLE_TIMEOUT_MS = 4_000;

/** NGHTTP2_REFUSED_STREAM is the RST_STREAM code for a stream closed before any processing (RFC 9113 §8.7). */
const NGHTTP2_REFUSED_STREAM = constants.NGHTTP2_REFUSED_STREAM;

/** Tracked is a session with its open-stream count, the peer's limit, idle timer, retirement and the peer's GOAWAY. */
interface Tracked {
  open: number;
  /** Streams the peer allows at once (its SETTINGS_MAX_CONCURRENT_STREAMS; at least 1). */
  max: number;
  idle: NodeJS.Timeout | null;
  /** Retired by this side: no new stream; closed when `open` reaches 0. */
  retired: boolean;
  /** The last-stream-id of the peer's GOAWAY (-1: none yet): streams above it were not processed. */
  goawayLastStreamId: number;
}

/**
 * Unprocessed says why the peer never processed a stream (RFC 9113 §8.7), so it may be sent again:
 * `REFUSED_STREAM` (RST_STREAM with that code), `GOAWAY` (above the last-stream-id of the peer's
 * GOAWAY, or never sent before the session closed).
 */
export type Unprocessed = 'REFUSED_STREAM' | 'GOAWAY';

export class H2SessionSet {
  /** Per key, the sessions that take new streams, oldest first. */
  private readonly sessions = new Map<string, ClientHttp2Session[]>();
  private readonly tracked = new WeakMap<ClientHttp2Session, Tracked>();
  /** Retired sessions still finishing their streams (closed by close() too). */
  private readonly retiring = new Set<ClientHttp2Session>();
  constructor(private readonly opts: H2SessionOptions = {}) {}

  /**
   * request opens a stream on a session for `key` (the first with room for it, else a new one)
   * and counts it open until it closes; the session's idle timer runs only while no stream is
   * open. With `avoid` (the session a stream was just refused on) the stream goes on another
   * session: if `avoid` still takes new streams, it is retired first. Throws as ClientHttp2Session.request
   * does (a session already closing, no TLS identity for an https key).
   */
  request(key: string, headers: OutgoingHttpHeaders, options: ClientSessionRequestOptions, avoid?: ClientHttp2Session): ClientHttp2Stream {
    if (avoid !== undefined && this.sessions.get(key)?.includes(avoid) === true) this.retire(key, avoid);
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

  /**
   * unprocessed says whether the peer never processed `stream` (opened on `session`; `err` is
   * the stream's error, if any), so that it may be sent again on another session (RFC 9113 §8.7,
   * §6.8): reset with REFUSED_STREAM, above the last-stream-id of a GOAWAY the peer sent, or
   * never sent at all because its session received GOAWAY first. null otherwise: a stream the
   * peer may have acted on is never replayed here.
   */
  unprocessed(stream: ClientHttp2Stream, session: ClientHttp2Session | undefined, err: unknown): Unprocessed | null {
    const id = stream.id;
    if (id === undefined) return (err as { code?: string } | null)?.code === 'ERR_HTTP2_GOAWAY_SESSION' ? 'GOAWAY' : null;
    const t = session === undefined ? undefined : this.tracked.get(session);
    if (t !== undefined && t.goawayLastStreamId >= 0 && id > t.goawayLastStreamId) return 'GOAWAY';
    return stream.rstCode === NGHTTP2_REFUSED_STREAM ? 'REFUSED_STREAM' : null;
  }

  /**
   * retire takes `session` out of use (no new stream goes on it) and closes it gracefully once
   * its last stream has closed, at once when it has none.
   */
  private retire(key: string, session: ClientHttp2Session): void {
    this.forget(key, session);
    const t = this.tracked.get(session);
    if (t === undefined || t.open === 0) {
      session.close();
      return;
    }
    t.retired = true;
    this.retiring.add(session);
  }

  /** armIdle closes `session` (gracefully) once it has had no open stream for the idle timeout. */
  private armIdle(key: string, session: ClientHttp2Session, t: Tracked): void {
    if (session.closed || session.destroyed) return;
    if (t.retired) {
      this.retiring.delete(session);
      session.close();
      return;
    }
    t.idle = setTimeout(() => {
      t.idle = null;
      if (t.open > 0) return;
      this.forget(key, session);
      session.close();
    }, this.opts.idleTimeoutMs ?? UPSTREAM_IDLE_TIMEOUT_MS);
    t.idle.unref();
  }

  /** forget takes `session` out of the sessions that take new streams for `key`. */
  private forget(key: string, session: ClientHttp2Session): void {
    const list = this.sessions.get(key);
    if (list === undefined) return;
    const i = list.indexOf(session);
    if (i < 0) return;
    if (list.length === 1) this.sessions.delete(key);
    else list.splice(i, 1);
  }

  /**
   * session returns a live session for `key` with room for one more stream (open streams below
   * the peer's SETTINGS_MAX_CONCURRENT_STREAMS), connecting a new one when there is none. The
   * connection is lazy: errors (refused, reset) surface on the first stream's 'error' event.
   */
  private session(key: string): ClientHttp2Session {
    const list = this.sessions.get(key);
    if (list !== undefined) {
      for (const s of list) {
        const t = this.tracked.get(s);
        if (t !== undefined && t.open < t.max && !s.closed && !s.destroyed) return s;
      }
    }
    const hash = key.indexOf('#');
    const secure = key.startsWith('https://');
    let created: ClientHttp2Session;
    // A further session to the same peer assumes what the peer told the first one.
    const sibling = list !== undefined && list.length > 0 ? this.tracked.get(list[0]!) : undefined;
    const peerMax = sibling?.max ?? this.opts.maxConcurrentStreams ?? PEER_MAX_CONCURRENT_STREAMS;
    if (secure) {
      if (hash < 0 || !this.opts.tls) throw Object.assign(new Error(`no TLS identity to reach ${key}`), { code: 'WEFT_UPSTREAM_IDENTITY' });
      created = connect(key.slice(0, hash), { ...this.opts.tls(key.slice(hash + 1)), ALPNProtocols: ['h2'], settings: { enablePush: false }, peerMaxConcurrentStreams: peerMax });
    } else {
      created = connect(key, { settings: { enablePush: false }, peerMaxConcurrentStreams: peerMax });
    }
    const t: Tracked = { open: 0, max: peerMax, idle: null, retired: false, goawayLastStreamId: -1 };
    const forget = (): void => this.forget(key, created);
    created.on('error', forget);
    // The peer's limit, read once per SETTINGS frame (remoteSettings is a native call); 0 would
    // leave no room at all, so a session always takes at least one stream.
    created.on('remoteSettings', (settings: { maxConcurrentStreams?: number }) => {
      if (settings.maxConcurrentStreams !== undefined) t.max = Math.max(1, settings.maxConcurrentStreams);
    });
    created.on('close', () => {
      forget();
      this.retiring.delete(created);
      if (t.idle) clearTimeout(t.idle);
    });
    created.on('goaway', (_code: number, lastStreamId: number) => {
      forget();
      // The first GOAWAY's id bounds the processed streams; a later one can only lower it.
      if (t.goawayLastStreamId < 0 || lastStreamId < t.goawayLastStreamId) t.goawayLastStreamId = lastStreamId;
    });
    created.unref();
    this.tracked.set(created, t);
    if (list !== undefined) list.push(created);
    else this.sessions.set(key, [created]);
    // A session that never carries a stream (its first request threw) is idle from the start.
    this.armIdle(key, created, t);
    return created;
  }

  /**
   * recycleTls retires every mTLS session after a certificate rotation: the next request opens a
   * new one; each old session closes once its open streams have finished.
   */
  recycleTls(): void {
    for (const [k, list] of [...this.sessions]) if (k.startsWith('https://')) for (const s of [...list]) this.retire(k, s);
  }

  /** keys with a session that takes new streams. */
  keys(): string[] {
    return [...this.sessions.keys()];
  }

  /** retain retires (open streams finish, then it closes) every session whose key is not in `keep`. */
  retain(keep: ReadonlySet<string>): void {
    for (const [a, list] of [...this.sessions]) if (!keep.has(a)) for (const s of [...list]) this.retire(a, s);
  }

  /** sessionsFor is the count of sessions for `key` that take new streams (retired and GOAWAYed ones not counted). */
  sessionsFor(key: string): number {
    return this.sessions.get(key)?.length ?? 0;
  }

  /** close closes every session gracefully and waits for them to end (bounded by `graceMs`). */
  async close(graceMs = 5_000): Promise<void> {
    const all = [...[...this.sessions.values()].flat(), ...this.retiring];
    this.sessions.clear();
    this.retiring.clear();
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
