import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import type { Headers } from '../policy/headers.js';

/**
 * The HTTP/2 side of a listener reads node:http2's core API (the server's 'stream' event) instead
 * of its compatibility API (Http2ServerRequest/Http2ServerResponse). The compatibility objects are
 * a Readable and a Stream per request layered over the ServerHttp2Stream, with six listeners on
 * the stream each, a header copy per setHeader and a trailers round trip on every response; on
 * this path they cost more CPU per request than node:http2 itself (BENCHMARKS "Proxy mTLS").
 * H2Request and H2Response carry just what the listener and the pipeline read, straight off the
 * stream. What the compatibility API did on the way is kept (see serveH2Stream in listener.ts):
 * `Expect: 100-continue` answered with a 100, another expectation 417, CONNECT 405, stream errors
 * observed (they end in 'close'), a `connection` response header dropped, every response with a
 * body ends with trailers (empty unless the upstream sent some).
 */

/** H2Request is an HTTP/2 request as the listener sees it: the head, the body as the stream itself. */
export class H2Request {
  /** Request trailers, once they arrived (HTTP/1.1's IncomingMessage.trailers has the same shape). */
  trailers: IncomingHttpHeaders = {};
  /** The request's `:method`. */
  readonly method: string;
  /** The request target (`:path`). */
  readonly url: string;
  /** `:authority`, else Host (RFC 9113 §8.3.1), else ''. */
  readonly authority: string;
  /** The connection (node:http2's socket proxy of the session, made once per session): remoteAddress, the TLS peer. */
  readonly socket: Socket;

  constructor(
    readonly stream: ServerHttp2Stream,
    /** The header block as nghttp2 delivered it, pseudo-headers included. */
    readonly headers: IncomingHttpHeaders,
    readonly rawHeaders: string[],
  ) {
    this.method = headers[':method'] ?? 'GET';
    this.url = headers[':path'] ?? '/';
    this.authority = headers[':authority'] ?? headers.host ?? '';
    this.socket = stream.session!.socket as Socket;
    // Only a stream with a body can end with trailers.
    if (!stream.endAfterHeaders) stream.once('trailers', (t: IncomingHttpHeaders) => (this.trailers = t));
  }


  /** complete: nothing more will be read (the body ended, or the stream is closed or destroyed). */
  get complete(): boolean {
    const s = this.stream;
    return s.readableEnded || s.closed || s.destroyed;
  }

  /** resume drains the body nobody reads, so the stream can end. */
  resume(): void {
    this.stream.resume();
  }

  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    return this.stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }
}

/**
 * H2Response answers on the stream. The members are those of node:http's ServerResponse the
 * listener and UpstreamBody use; `writeHead` and `respondHeadersOnly` send the head at once.
 */
export class H2Response {
  /** The status sent (200 until a head is sent). */
  statusCode = 200;
  private trailers: Headers | null = null;

  constructor(readonly stream: ServerHttp2Stream) {}

  get headersSent(): boolean {
    return this.stream.headersSent;
  }

  get writableFinished(): boolean {
    return this.stream.writableFinished;
  }

  /** destroyed: the stream can take no response any more (destroyed, or reset by the client). */
  get destroyed(): boolean {
    return this.stream.destroyed || this.stream.closed;
  }

  on(event: 'close' | 'drain', fn: () => void): this {
    this.stream.on(event, fn);
    return this;
  }

  once(event: 'close' | 'drain', fn: () => void): this {
    this.stream.once(event, fn);
    return this;
  }

  /** setTimeout: `fn` runs once the stream has seen no frame for `ms` (node:http2's stream timer). */
  setTimeout(ms: number, fn: () => void): void {
    this.stream.setTimeout(ms, fn);
  }

  /**
   * writeHead sends the response head; the body follows with write/end, and the stream ends with
   * a trailing HEADERS frame (addTrailers; none: node sends an empty END_STREAM DATA frame). The
   * stream always waits for trailers, as the compatibility API's did: a stream that ends with its
   * last DATA frame is closed by nghttp2 before the write's completion reaches JavaScript, so it
   * would be destroyed unfinished (each pending write failed with an error, and the response
   * counted as not completed). Throws, before anything is sent, on a header node:http2 refuses
   * (an invalid name or value, a connection-specific header other than `connection`).
   */
  writeHead(status: number, headers: Headers): void {
    const st = this.stream;
    st.respond(h2Head(status, headers), WAIT_FOR_TRAILERS);
    this.statusCode = status;
    st.once('wantTrailers', () => this.sendTrailers());
  }

  /** respondHeadersOnly sends one HEADERS frame that ends the stream (gRPC "trailers-only"). Throws as writeHead. */
  respondHeadersOnly(status: number, headers: Headers): void {
    this.stream.respond(h2Head(status, headers), END_STREAM);
    this.statusCode = status;
  }

  /** write sends a body chunk; false: wait for 'drain'. A stream already ended (HEAD, 204, 304) takes nothing. */
  write(chunk: Buffer | string): boolean {
    const st = this.stream;
    if (st.writableEnded) return true;
    return st.write(chunk);
  }

  end(chunk?: Buffer | string): void {
    const st = this.stream;
    if (st.writableEnded) return;
    if (chunk === undefined) st.end();
    else st.end(chunk);
  }

  addTrailers(t: Headers): void {
    this.trailers = t;
  }

  /**
   * destroy resets the stream with INTERNAL_ERROR: a response cut short (its upstream body
   * failed, the stream went idle mid-body) must never look complete to the client. A bare
   * destroy() would reset it with NO_ERROR, which node:http2 clients read as the end of the body.
   */
  destroy(): void {
    const st = this.stream;
    if (!st.destroyed) st.destroy(new Error('response cut short'));
  }

  private sendTrailers(): void {
    const st = this.stream;
    if (st.destroyed || st.closed) return;
    try {
      st.sendTrailers(this.trailers ?? {});
    } catch {
      // A trailer node:http2 refuses (an invalid name or value): the stream still has to end.
      st.sendTrailers({});
    }
  }
}

const WAIT_FOR_TRAILERS = { endStream: false, waitForTrailers: true } as const;
const END_STREAM = { endStream: true, waitForTrailers: false } as const;

/**
 * h2Head is the response header block: `headers` plus `:status`, without `connection` (the
 * compatibility API dropped it too; the other connection-specific headers make respond() throw).
 */
function h2Head(status: number, headers: Headers): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const k in headers) if (k.length !== 10 || k.toLowerCase() !== 'connection') out[k] = headers[k];
  out[':status'] = status;
  return out;
}
