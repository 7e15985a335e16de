import { createServer, ServerResponse, STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import { constants as h2constants, createServer as createH2Server, type Http2Server, type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import type { Duplex, Readable } from 'node:stream';
import type { MeshProxySettings } from '../../schemas/bundle.js';
import { DEFAULT_PROXY_SETTINGS } from '../../schemas/proxy-settings.js';
import {
  BadRequestError,
  DuplicateHostError,
  errorReplyBody,
  HeadersTooLargeError,
  NotReadyError,
  RequestHeadersTimeoutError,
  RequestReceiveTimeoutError,
  StreamIdleTimeoutError,
  UpgradeUnsupportedError,
  UpstreamIdleTimeoutError,
  WeftError,
} from '../errors.js';
import { splitTarget } from '../router/index.js';
import { withoutHopByHop } from '../policy/hop-by-hop.js';
import { PENDING_REQUEST_BODIES, RequestBody } from './body.js';
import type { ActiveBundle, ProxyContext } from './context.js';
import { discard, errorReply, Exchange, type Direction, type Handler, type Headers, type Reply } from './pipeline.js';
import { grpcErrorReply, grpcStatusOf } from './grpc-status.js';
import { H2Request, H2Response } from './h2-server-stream.js';
import { ProtocolDispatcher } from './protocol-dispatch.js';
import { randomHex } from './random-id.js';
import { UpstreamBody } from './upstream-body.js';

/**
 * A listener: one port that speaks HTTP/1.1 (node:http) and HTTP/2 (node:http2, h2c with prior
 * knowledge; ALPN once a TLS branch is installed), chosen per connection by ProtocolDispatcher.
 * Both servers turn each request into an Exchange, run the same composed pipeline and write the
 * Reply: the protocol never reaches the steps. HTTP/1.1 framing is Node's llhttp in strict mode
 * (never insecureHTTPParser): duplicate Content-Length, Content-Length with Transfer-Encoding,
 * obs-fold and bad chunk sizes are refused with 400 and the connection closed; oversized headers
 * get 431. HTTP/2 framing is nghttp2's; a header list over the limit resets the stream.
 *
 * `Expect: 100-continue` is answered by the listener (both servers send 100 Continue before the
 * handler reads the body, as Envoy does by default) and the expectation is not forwarded: the
 * body arrives whole at the upstream, which never sees the header.
 *
 * Keep-alive: the server keeps idle client connections 65 s, longer than any HTTP client's usual
 * idle timeout (undici 4 s, Node's agent 5 s), so the client closes first and never sends on a
 * socket this side is closing.
 */

/** KEEP_ALIVE_TIMEOUT_MS for client-facing listeners. */
export const KEEP_ALIVE_TIMEOUT_MS = 65_000;

/** ServerRequest is a request from either protocol (HTTP/2: node:http2's core stream, h2-server-stream.ts). */
export type ServerRequest = IncomingMessage | H2Request;
type ServerReply = ServerResponse | H2Response;

/** Listener is one port: the dispatcher that owns the socket and the two protocol servers. */
export interface Listener {
  readonly dispatcher: ProtocolDispatcher;
  readonly http1: Server;
  readonly http2: Http2Server;
  /** close stops accepting, closes idle HTTP/1.1 connections and HTTP/2 sessions, waits for the rest. */
  close(): Promise<void>;
  /**
   * apply sets the listener limits of MeshConfig spec.proxy (on start and on every reload):
   * maxConnections, the request-head size and count, requestHeadersTimeout. New connections get
   * them; per-request limits (streamIdleTimeout, header count) are read from the bundle each
   * request started with.
   */
  apply(limits: Readonly<MeshProxySettings>): void;
}

/**
 * CONNECTIONS_CHECK_MS is how often node:http looks for connections past requestHeadersTimeout
 * (Node's default, 30 s, would let a slow head live 40 s under a 10 s timeout).
 */
const CONNECTIONS_CHECK_MS = 250;

/** Http1Limits: node:http's server.maxHeaderSize, read per new connection. */
type Http1Limits = Server & { maxHeaderSize: number };

/**
 * H2_MAX_CONCURRENT_STREAMS is the SETTINGS_MAX_CONCURRENT_STREAMS of every listener: the streams
 * one HTTP/2 connection may have open at once (more are refused with RST_STREAM REFUSED_STREAM,
 * which clients retry on another connection). 100, as Envoy's edge best practices
 * (`max_concurrent_streams`) and gRPC servers set it. It bounds what a connection can make this
 * proxy hold: each stream may hold its request body's first bodyBufferLimit bytes (64 KiB) read
 * before routing plus one stream window (H2_INITIAL_WINDOW_SIZE) of data not yet read, so at most
 * 100 × 128 KiB = 12.5 MiB per connection (it was 1,000: 125 MiB). Calling proxies open more
 * connections to a peer that has 100 streams open on each (H2SessionSet).
 */
export const H2_MAX_CONCURRENT_STREAMS = 100;

/**
 * H2_INITIAL_WINDOW_SIZE is the listener's SETTINGS_INITIAL_WINDOW_SIZE (bytes): what a client may
 * send on one stream before this side reads it. 65,535 (the RFC 9113 default; Envoy's edge
 * `initial_stream_window_size` is 64 KiB), set explicitly because H2_MAX_CONCURRENT_STREAMS ×
 * this is the bound on unread bytes per connection. The connection window bounds nothing here:
 * node:http2 returns connection window as soon as data reaches it, read by JS or not, so neither
 * it nor node's `maxSessionMemory` (which does not count received DATA) limits buffered bodies —
 * measured: with maxSessionMemory 1 MB a flood held as much as with the default.
 */
const H2_INITIAL_WINDOW_SIZE = 65_535;

/** H2_MAX_HEADER_PAIRS lets nghttp2 accept any count the schema allows, so the count check below answers 431 itself. */
const H2_MAX_HEADER_PAIRS = 10_000 + 8;

/**
 * PIPELINE_MAX_QUEUED bounds the HTTP/1.1 requests one connection may have pipelined behind the
 * one being answered. node:http emits every pipelined request as soon as it is parsed and queues
 * only the responses, so without this a single connection sending 20,000 GETs in one write made
 * the proxy start them all at once (the review of 2026-11-30 saw 1,081 concurrent upstream
 * requests from one client connection and RSS growing by 100 MiB in 5 s): pipelining went
 * around `maxConnections` and every pool bound. Now a pipelined request starts only when the one
 * before it on its connection is answered, as Envoy's HTTP/1.1 codec does, and a client that
 * queues more than this many is disconnected (`weft_listener_refused_total{reason="pipelining"}`);
 * browsers and HTTP client libraries do not pipeline, or pipeline a few.
 */
const PIPELINE_MAX_QUEUED = 32;

/** QUEUED counts, on a socket, the pipelined requests waiting behind the one being answered. */
const QUEUED = Symbol('weft.pipelined');

/**
 * servePipelined starts a pipelined request once node:http gives its response the socket (the
 * previous response finished), or disconnects a client that queued more than PIPELINE_MAX_QUEUED.
 */
function servePipelined(ctx: ProxyContext, direction: Direction, handler: Handler, req: IncomingMessage, res: ServerResponse): void {
  const socket = req.socket as Socket & { [QUEUED]?: number };
  if (socket.destroyed) return;
  const queued = (socket[QUEUED] ?? 0) + 1;
  if (queued > PIPELINE_MAX_QUEUED) {
    ctx.metrics.listenerRefused.inc({ listener: direction, reason: 'pipelining' });
    socket.destroy();
    return;
  }
  socket[QUEUED] = queued;
  res.once('socket', () => {
    socket[QUEUED] = (socket[QUEUED] ?? 1) - 1;
    handle(ctx, direction, handler, req, res);
  });
}

/** createListener builds (not yet listening) the listener for one direction. */
export function createListener(ctx: ProxyContext, direction: Direction, handler: Handler, limits: Readonly<MeshProxySettings> = ctx.active()?.limits ?? DEFAULT_PROXY_SETTINGS): Listener {
  const http1 = createServer(
    {
      maxHeaderSize: limits.maxRequestHeadersBytes,
      keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
      headersTimeout: limits.requestHeadersTimeoutMs,
      requestTimeout: 0,
      connectionsCheckingInterval: CONNECTIONS_CHECK_MS,
    },
    (req, res) => {
      // node:http emits every pipelined request at once and only queues their responses: a
      // response without a socket is queued behind the one being written.
      if (res.socket !== null) handle(ctx, direction, handler, req, res);
      else servePipelined(ctx, direction, handler, req, res);
    },
  );
  http1.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  http1.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    void handleUpgrade(ctx, direction, handler, req, socket, head);
  });
  http1.on('clientError', (err: Error & { code?: string }, socket: Socket) => {
    // A response may already be under way (an error mid-body): then only closing is possible.
    const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (!socket.writable || err.code === 'ECONNRESET' || (inFlight && inFlight.headersSent)) {
      socket.destroy();
      return;
    }
    const e =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? new HeadersTooLargeError(`request head larger than maxRequestHeadersBytes ${(http1 as Http1Limits).maxHeaderSize}`)
        : err.code === 'HPE_HEADERS_TIMEOUT' || err.code === 'ERR_HTTP_REQUEST_TIMEOUT' // the latter: node:http's headersTimeout check (requestTimeout is off)
          ? new RequestHeadersTimeoutError(http1.headersTimeout)
          : new BadRequestError(err.code ?? 'malformed request');
    if (e.code !== 'WEFT_BAD_REQUEST') ctx.metrics.listenerRefused.inc({ listener: direction, reason: e.code });
    const status = e.status;
    const body = errorReplyBody(e);
    socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nconnection: close\r\ncontent-type: text/plain; charset=utf-8\r\nweft-error: ${e.code}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    socket.destroySoon();
  });
  // No request listener: node:http2's compatibility API stays off; streams are served by serveH2Stream.
  const http2 = createH2Server({ maxHeaderListPairs: H2_MAX_HEADER_PAIRS, settings: { maxConcurrentStreams: H2_MAX_CONCURRENT_STREAMS, initialWindowSize: H2_INITIAL_WINDOW_SIZE, maxHeaderListSize: limits.maxRequestHeadersBytes } });
  http2.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, _flags: number, rawHeaders: string[]) => serveH2Stream(ctx, direction, handler, stream, headers, rawHeaders));
  // HTTP/2 connections are timed by watchSession (not http2.setTimeout: that destroys a session
  // after 65 s without a frame even while a quiet stream is open, and PINGs do not count).
  let headersTimeoutMs = limits.requestHeadersTimeoutMs;
  const sessions = new Set<ServerHttp2Session>();
  http2.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
    s.on('error', () => {});
    watchSession(s, headersTimeoutMs, KEEP_ALIVE_TIMEOUT_MS, () => ctx.metrics.listenerRefused.inc({ listener: direction, reason: 'WEFT_REQUEST_HEADERS_TIMEOUT' }));
  });
  const dispatcher = new ProtocolDispatcher(http1, http2, { sniffTimeoutMs: limits.requestHeadersTimeoutMs });
  // Past maxConnections the socket is closed at once (there is no connection to answer on yet);
  // the count says it happened.
  dispatcher.server.maxConnections = limits.maxConnections;
  // node:http tracks its connections (headersTimeout, closeIdleConnections) from its own
  // 'listening' event; http1 never listens itself (the dispatcher owns the port), so without this
  // requestHeadersTimeout would never fire and idle connections would never be found.
  dispatcher.server.on('listening', () => http1.emit('listening'));
  dispatcher.server.on('drop', () => ctx.metrics.listenerRefused.inc({ listener: direction, reason: 'maxConnections' }));
  const apply = (l: Readonly<MeshProxySettings>): void => {
    dispatcher.server.maxConnections = l.maxConnections;
    // node:http reads server.maxHeaderSize when a connection starts (not in its typings).
    (http1 as Http1Limits).maxHeaderSize = l.maxRequestHeadersBytes;
    // One more than the limit: Node drops headers past maxHeadersCount silently, so the request
    // handler sees limit + 1 and answers 431 (never a truncated request).
    http1.maxHeadersCount = l.maxRequestHeadersCount + 1;
    http1.headersTimeout = l.requestHeadersTimeoutMs;
    // node:http arms each connection's socket timer with server.timeout when a request starts
    // (and with the keep-alive timeout between requests): that is streamIdleTimeout, without a
    // new timer per request. The request's response listens for it (ListenerRequest.start).
    http1.timeout = l.streamIdleTimeoutMs;
    headersTimeoutMs = l.requestHeadersTimeoutMs;
    dispatcher.sniffTimeoutMs = l.requestHeadersTimeoutMs;
    http2.updateSettings({ maxHeaderListSize: l.maxRequestHeadersBytes });
  };
  apply(limits);
  return {
    dispatcher,
    http1,
    http2,
    apply,
    close: () =>
      new Promise<void>((resolve) => {
        dispatcher.server.close(() => resolve());
        http1.closeIdleConnections();
        // Sessions finish their open streams after GOAWAY, then close.
        for (const s of sessions) s.close();
        http1.close();
        http2.close();
      }),
  };
}

/**
 * notForwarded: request headers the listener never copies upstream besides the hop-by-hop ones —
 * and the identity headers' look-alikes spelled with `_` (`x_forwarded_client_cert`,
 * `weft_source`). CGI-style servers (PHP, Python WSGI, Ruby Rack) read `_` and `-` in a header
 * name as one, so such a header from a caller would reach the app as HTTP_X_FORWARDED_CLIENT_CERT
 * next to the verified one. Only names of those two lengths are looked at: one comparison per
 * header otherwise.
 */
function notForwarded(k: string): boolean {
  return k === 'host' || k === 'expect' || k.charCodeAt(0) === 58 /* ':' pseudo-header */ || ((k.length === 23 || k.length === 11) && identityLookalike(k));
}

/** identityLookalike: `k` has a `_` and names x-forwarded-client-cert or weft-source once `_` reads as `-`. */
function identityLookalike(k: string): boolean {
  if (!k.includes('_')) return false;
  const n = k.replaceAll('_', '-');
  return n === 'x-forwarded-client-cert' || n === 'weft-source';
}

/**
 * watchSession gives an HTTP/2 connection what node:http gives an HTTP/1.1 one:
 *  - requestHeadersTimeout: the first complete request head (HEADERS, plus any CONTINUATION)
 *    must arrive within `headersMs` of the session starting, else the connection is destroyed
 *    and `onHeadersTimeout` counts it — a client that sends the preface (or finishes its TLS
 *    handshake) and then nothing, or never ends a header block, holds nothing. The preface itself
 *    is bounded by the dispatcher's sniff timeout, set to the same value.
 *  - keep-alive: a session with no open stream for `idleMs` is closed (GOAWAY, then close), as an
 *    idle HTTP/1.1 connection is. Streams are counted, not frames: PINGs do not keep an idle
 *    session, and a quiet open stream (a gRPC watch) keeps its session, bounded by its own
 *    streamIdleTimeout.
 * A header block left unfinished on a session that has served requests blocks the connection
 * (RFC 9113 §6.10: nothing may be interleaved), so its streams go idle, end, and the idle close
 * follows.
 */
function watchSession(s: ServerHttp2Session, headersMs: number, idleMs: number, onHeadersTimeout: () => void): void {
  let open = 0;
  let timer: NodeJS.Timeout | undefined;
  const arm = (ms: number, first: boolean): void => {
    if (ms <= 0) return;
    timer = setTimeout(() => {
      if (open > 0 || s.destroyed) return;
      if (first) {
        onHeadersTimeout();
        s.destroy();
      } else s.close();
    }, ms);
  };
  arm(headersMs, true);
  s.on('stream', (stream) => {
    open++;
    clearTimeout(timer);
    stream.once('close', () => {
      if (--open === 0) arm(idleMs, false);
    });
  });
  s.once('close', () => clearTimeout(timer));
}

/**
 * copyHeaders copies the request headers that go upstream, in one pass: not `host` (the
 * authority is carried apart), not HTTP/2 pseudo-headers, not `expect` (the listener answered
 * it), not the hop-by-hop headers nor those Connection names.
 */
function copyHeaders(req: ServerRequest): Headers {
  return withoutHopByHop(req.headers, notForwarded);
}

function isH2(req: ServerRequest): req is H2Request {
  return req instanceof H2Request;
}

/**
 * serveH2Stream serves one HTTP/2 request stream as the compatibility API would have before
 * calling the handler: stream errors are observed (they end in 'close'), CONNECT gets 405, an
 * `Expect: 100-continue` gets its 100 at once, any other expectation 417.
 */
function serveH2Stream(ctx: ProxyContext, direction: Direction, handler: Handler, stream: ServerHttp2Stream, headers: IncomingHttpHeaders, rawHeaders: string[]): void {
  stream.on('error', ignore);
  // Overload: too many bodies held unfinished in this process (PendingBodies): a new stream with
  // a body is refused unprocessed, so its client may send it again.
  if (PENDING_REQUEST_BODIES.reading >= PENDING_REQUEST_BODIES.limit && !stream.endAfterHeaders) {
    ctx.metrics.listenerRefused.inc({ listener: direction, reason: 'maxPendingRequestBodies' });
    stream.close(h2constants.NGHTTP2_REFUSED_STREAM);
    return;
  }
  if (headers[':method'] === 'CONNECT') {
    stream.respond({ ':status': 405 }, { endStream: true });
    return;
  }
  // RFC 9112's request-target and RFC 3986's URI are visible ASCII; llhttp refuses anything else
  // on HTTP/1.1 (400 WEFT_BAD_REQUEST). nghttp2 refuses controls and spaces in :path but lets
  // bytes >= 0x80 through, which a backend decoding them (UTF-8, best-fit, NFKC) could read as a
  // path no rule matched: refused the same way here.
  const target = headers[':path'];
  if (target !== undefined && NOT_VISIBLE_ASCII.test(target)) {
    const body = errorReplyBody(new BadRequestError('request target with bytes outside visible ASCII'));
    stream.respond({ ':status': 400, 'content-type': 'text/plain; charset=utf-8', 'weft-error': 'WEFT_BAD_REQUEST', 'content-length': Buffer.byteLength(body) });
    stream.end(body);
    return;
  }
  const expect = headers.expect;
  if (expect !== undefined) {
    if (expect !== '100-continue') {
      stream.respond({ ':status': 417 }, { endStream: true });
      return;
    }
    stream.additionalHeaders({ ':status': 100 });
  }
  handle(ctx, direction, handler, new H2Request(stream, headers, rawHeaders), new H2Response(stream));
}

function ignore(): void {}

/** NOT_VISIBLE_ASCII finds a character a request target may not hold (RFC 3986: 0x21-0x7E only). */
const NOT_VISIBLE_ASCII = /[^\x21-\x7e]/;

/**
 * headProblem checks what node:http and node:http2 let through: more request headers than
 * maxRequestHeadersCount (431; Node would otherwise drop the rest silently, Content-Length
 * included), and more than one Host (400, RFC 9112 §3.2). One pass over rawHeaders.
 */
function headProblem(req: ServerRequest, limits: Readonly<MeshProxySettings>): WeftError | null {
  const raw = req.rawHeaders;
  let count = 0;
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.charCodeAt(0) === 58 /* ':' pseudo-header */) continue;
    count++;
    if (name.length === 4 && name.toLowerCase() === 'host') hosts++;
  }
  if (count > limits.maxRequestHeadersCount) return new HeadersTooLargeError(`more than maxRequestHeadersCount ${limits.maxRequestHeadersCount} request headers`);
  if (hosts > 1) return new DuplicateHostError();
  return null;
}

/** hasBody: the request head announces a body (HTTP/1.1 Content-Length or Transfer-Encoding; an HTTP/2 stream not ended with its headers). */
function hasBody(req: ServerRequest): boolean {
  if (req.complete) return false;
  const cl = req.headers['content-length'];
  if (isH2(req)) return !req.stream.endAfterHeaders && cl !== '0';
  return req.headers['transfer-encoding'] !== undefined || (cl !== undefined && cl !== '0');
}

function handle(ctx: ProxyContext, direction: Direction, handler: Handler, req: ServerRequest, res: ServerReply): void {
  const startedAt = performance.now();
  const active = ctx.active();
  const limits = active?.limits ?? DEFAULT_PROXY_SETTINGS;
  const bad = headProblem(req, limits);
  if (bad) {
    ctx.metrics.listenerRefused.inc({ listener: direction, reason: bad.code });
    write(res, forClient(req, errorReply(bad)), req);
    return;
  }
  if (!active) {
    req.resume();
    write(res, forClient(req, errorReply(new NotReadyError())), req);
    return;
  }
  new ListenerRequest(ctx, direction, handler, req, res, active, startedAt).start(limits.streamIdleTimeoutMs, limits.requestTimeoutMs);
}

/**
 * ListenerRequest carries one request from the listener through the pipeline to the written
 * reply: reading the kept body prefix, building the Exchange, running the handler, writing the
 * answer, and reporting the outcome when the response closes. One object per request with its
 * steps as methods, instead of an async function with a closure per stage.
 *
 * streamIdleTimeout is the response's setTimeout, which node:http arms on the socket (no bytes
 * read or written) and node:http2 on the stream. It answers with the error that says who went
 * quiet: the client in the middle of its body (408) or the upstream after the whole request was
 * sent (504); the pipeline's own answer, when it comes later, is discarded. Once the response has
 * started, only a reset is possible.
 *
 * requestTimeout (Envoy's `request_timeout`) bounds a request that has a body: counted from the
 * arrival of the head, it answers 408 WEFT_REQUEST_RECEIVE_TIMEOUT when the body is still
 * arriving and no response has started, so a client trickling its body just fast enough to never
 * be idle is cut all the same. It is disarmed once the body is complete, or the response closes.
 */
/** OWNER: the ListenerRequest of an HTTP/1.1 response, for the shared response listeners below. */
const OWNER = Symbol('weft.listenerRequest');
type Tagged = ServerResponse & { [OWNER]?: ListenerRequest };

function onResponseIdle(this: ServerResponse): void {
  (this as Tagged)[OWNER]?.idle();
}

function onResponseClose(this: ServerResponse): void {
  (this as Tagged)[OWNER]?.closed();
}

class ListenerRequest {
  private readonly h2: boolean;
  private ex: Exchange | null = null;
  private body: RequestBody | null = null;
  /** The reply written to the client (set once; a later answer is discarded). */
  private answered: Reply | null = null;
  /** True once something was written (or the request was given up while its body was read). */
  private written = false;
  /** The requestTimeout timer, armed while a body is arriving. */
  private receiveTimer: NodeJS.Timeout | null = null;
  /** streamIdleTimeout of this request (ms; 0: none). */
  private idleMs = 0;

  constructor(
    private readonly ctx: ProxyContext,
    private readonly direction: Direction,
    private readonly handler: Handler,
    private readonly req: ServerRequest,
    private readonly res: ServerReply,
    private readonly active: ActiveBundle,
    private readonly startedAt: number,
  ) {
    this.h2 = isH2(req);
  }

  start(idleMs: number, receiveMs: number): void {
    // HTTP/1.1: the response's listeners are shared functions that find this object on the
    // response (no closures made per request). node:http2's stream calls them on the stream, so
    // HTTP/2 keeps closures.
    if (!this.h2) (this.res as Tagged)[OWNER] = this;
    if (idleMs > 0) {
      this.idleMs = idleMs;
      // HTTP/1.1: the socket timer already runs at idleMs (server.timeout, set by apply) unless a
      // reload changed the limit since; HTTP/2 times each stream itself.
      if (this.h2) this.res.setTimeout(idleMs, () => this.idle());
      else if ((this.req.socket as Socket & { timeout?: number }).timeout === idleMs) (this.res as ServerResponse).on('timeout', onResponseIdle);
      else (this.res as ServerResponse).setTimeout(idleMs, onResponseIdle);
    }
    if (receiveMs > 0 && hasBody(this.req)) {
      this.receiveTimer = setTimeout(() => this.receiveTimeout(receiveMs), receiveMs);
      this.res.once('close', () => this.disarmReceive());
    }
    let read: RequestBody | Promise<RequestBody>;
    try {
      // A gRPC body streams from its first byte (a bidi call's messages wait for answers).
      read = isGrpc(this.req) ? RequestBody.teed(this.req, this.ctx.settings.bodyBufferLimit) : RequestBody.read(this.req, this.ctx.settings.bodyBufferLimit);
    } catch (err) {
      this.bodyFailed(err);
      return;
    }
    if (read instanceof RequestBody) this.run(read);
    else
      read.then(
        (b) => {
          if (this.req.complete) this.disarmReceive();
          if (this.written) b.destroy();
          else this.run(b);
        },
        (err: unknown) => this.bodyFailed(err),
      );
  }

  private disarmReceive(): void {
    if (this.receiveTimer === null) return;
    clearTimeout(this.receiveTimer);
    this.receiveTimer = null;
  }

  private receiveTimeout(ms: number): void {
    this.receiveTimer = null;
    if (this.req.complete || this.res.headersSent || this.written) return;
    const err = new RequestReceiveTimeoutError(ms);
    this.ctx.metrics.listenerRefused.inc({ listener: this.direction, reason: err.code });
    this.giveUp(err);
  }

  /**
   * giveUp answers `err` now: before the Exchange exists (the body was still being read) the
   * reply is written and the connection closed after it; afterwards the attempt is cancelled and
   * whatever answer the pipeline gives later is dropped.
   */
  private giveUp(err: WeftError): void {
    if (this.ex === null) {
      this.written = true;
      write(this.res, forClient(this.req, errorReply(err)), this.req);
      return;
    }
    this.ex.abort(err);
    this.answer(errorReply(err));
  }

  private bodyFailed(err: unknown): void {
    if (this.written) return;
    if (!this.h2) (this.res as ServerResponse).shouldKeepAlive = false;
    this.written = true;
    write(this.res, forClient(this.req, errorReply(err instanceof WeftError ? err : new BadRequestError(String(err)))), this.req);
  }

  private run(body: RequestBody): void {
    const req = this.req;
    const h2 = this.h2;
    const target = splitTarget(req.url ?? '/');
    const ex = new Exchange({
      id: randomHex(8),
      direction: this.direction,
      req,
      clientAddress: req.socket.remoteAddress ?? '',
      startedAt: this.startedAt,
      router: this.active.router,
      self: this.ctx.self,
      method: req.method ?? 'GET',
      path: target.path,
      query: target.query,
      authority: target.authority ?? (h2 ? (req as H2Request).authority : req.headers.host) ?? '',
      protocol: h2 ? 'HTTP/2' : 'HTTP/1.1',
      headers: copyHeaders(req),
      body,
    });
    this.ex = ex;
    this.body = body;
    if (this.h2) this.res.on('close', () => this.closed());
    else (this.res as ServerResponse).on('close', onResponseClose);
    let answer: Promise<Reply>;
    try {
      answer = this.handler(ex);
    } catch (err) {
      this.fail(err);
      return;
    }
    answer.then(
      (reply) => this.answer(reply),
      (err: unknown) => this.fail(err),
    );
  }

  private fail(err: unknown): void {
    const reply = err instanceof WeftError ? errorReply(err) : errorReply(new WeftError('WEFT_INTERNAL', `internal error: ${(err as Error).message ?? String(err)}`, 500));
    if (reply.status === 400 && !this.h2 && !this.written) (this.res as ServerResponse).shouldKeepAlive = false;
    this.answer(reply);
  }

  private answer(reply: Reply): void {
    if (this.written) {
      discard(reply);
      return;
    }
    this.written = true;
    // A gRPC client reads errors from grpc-status: the proxy's own errors are gRPC statuses.
    if (this.ex!.grpc && reply.origin === 'local') reply = grpcErrorReply(reply);
    this.answered = reply;
    write(this.res, reply, this.req);
  }

  /** idle is the response's streamIdleTimeout firing. */
  idle(): void {
    const ms = this.idleMs;
    const res = this.res;
    const direction = this.direction;
    if (res.headersSent) {
      this.ctx.metrics.listenerRefused.inc({ listener: direction, reason: 'WEFT_STREAM_IDLE_TIMEOUT' });
      res.destroy();
      return;
    }
    if (this.written) return;
    const err = this.req.complete ? new UpstreamIdleTimeoutError(ms) : new StreamIdleTimeoutError(ms);
    this.ctx.metrics.listenerRefused.inc({ listener: direction, reason: err.code });
    // The client stopped sending its body (answered, the rest never read), or nobody spoke for
    // streamIdleTimeout while the pipeline ran.
    this.giveUp(err);
  }

  /** closed is the response's 'close': abort what is left, report the outcome. */
  closed(): void {
    const ex = this.ex!;
    const res = this.res;
    if (!res.writableFinished) ex.abort(new WeftError('WEFT_CLIENT_GONE', 'the client went away', 499));
    this.body!.destroy();
    const answered = this.answered;
    const b = answered !== null && answered.body !== null && typeof answered.body !== 'string' ? answered.body : null;
    // A body the client will not read any more aborts its upstream request.
    if (b !== null && !b.readableEnded) b.destroy();
    if (ex.onDone.length === 0) return;
    const trailers = b !== null ? (b as { trailers?: Headers | null }).trailers : null;
    const grpcStatus = ex.grpc && answered ? grpcStatusOf(answered.headers, trailers) : null;
    const outcome = { status: res.statusCode, code: answered?.code ?? null, grpcStatus, durationSeconds: (performance.now() - this.startedAt) / 1000, completed: res.writableFinished };
    for (const f of ex.onDone) {
      try {
        f(ex, outcome);
      } catch {
        // an observer's failure must not affect the request
      }
    }
  }
}

/**
 * handleUpgrade serves an HTTP/1.1 `Upgrade` request. A WebSocket upgrade is an Exchange like any
 * other — routed, authorized, rate limited by the same pipeline — whose attempt asks the upstream
 * to upgrade too (forward-upgrade.ts). On 101 both connections are piped both ways until either
 * side closes, or nothing moves for the stream idle timeout. Any other answer (403 from
 * authorization, 404, 429, the app's own refusal) is written as a normal response and the
 * connection closed: a refused caller never reaches the app. Other Upgrade tokens (h2c, …) are
 * refused with 400 WEFT_UPGRADE_UNSUPPORTED and the connection closed (HTTP/2 is served with
 * prior knowledge or ALPN instead).
 */
async function handleUpgrade(ctx: ProxyContext, direction: Direction, handler: Handler, req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
  const startedAt = performance.now();
  socket.on('error', () => socket.destroy());
  // The connection leaves node:http: its streamIdleTimeout timer (server.timeout) is not the
  // tunnel's, which keeps its own idle limit.
  (socket as Socket).setTimeout?.(0);
  const token = String(req.headers.upgrade ?? '').trim().toLowerCase();
  const active = ctx.active();
  if (token !== 'websocket') {
    writeRaw(socket, errorReply(new UpgradeUnsupportedError(token)));
    return;
  }
  if (!active) {
    writeRaw(socket, errorReply(new NotReadyError()));
    return;
  }
  const limits = active.limits ?? DEFAULT_PROXY_SETTINGS;
  const target = splitTarget(req.url ?? '/');
  const ex = new Exchange({
    id: randomHex(8),
    direction,
    req,
    clientAddress: req.socket.remoteAddress ?? '',
    startedAt,
    router: active.router,
    self: ctx.self,
    method: req.method ?? 'GET',
    path: target.path,
    query: target.query,
    authority: target.authority ?? req.headers.host ?? '',
    protocol: 'HTTP/1.1',
    upgrade: token,
    headers: copyHeaders(req),
    body: RequestBody.EMPTY,
  });
  let reply: Reply;
  try {
    reply = await handler(ex);
  } catch (err) {
    reply = errorReply(err instanceof WeftError ? err : new WeftError('WEFT_INTERNAL', `internal error: ${(err as Error).message ?? String(err)}`, 500));
  }
  const done = (status: number, completed: boolean): void => {
    const outcome = { status, code: reply.code, grpcStatus: null, durationSeconds: (performance.now() - startedAt) / 1000, completed };
    for (const f of ex.onDone) {
      try {
        f(ex, outcome);
      } catch {
        // an observer's failure must not affect the connection
      }
    }
  };
  const up = reply.upgraded;
  reply.headers = clientHeaders(reply);
  if (reply.status !== 101 || !up) {
    up?.destroy();
    writeRaw(socket, reply);
    done(reply.status, true);
    return;
  }
  if (socket.destroyed) {
    up.destroy();
    done(499, false);
    return;
  }
  let head101 = 'HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: ' + token + '\r\n';
  for (const k in reply.headers) {
    if (k === 'connection' || k === 'upgrade') continue;
    const v = reply.headers[k]!;
    for (const one of typeof v === 'string' ? [v] : v) head101 += `${k}: ${one}\r\n`;
  }
  socket.write(head101 + '\r\n');
  if (head.length > 0) up.write(head);
  tunnel(socket, up, limits.streamIdleTimeoutMs, (clean) => done(101, clean));
}

/**
 * tunnel pipes two upgraded connections both ways. Either side closing ends the other (half-close
 * passes through as an end); an error destroys both; `idleMs` without a byte either way closes
 * both (0: no idle limit).
 */
function tunnel(a: Duplex, b: Duplex, idleMs: number, onClose: (clean: boolean) => void): void {
  let closed = 0;
  let clean = true;
  const close = (): void => {
    if (++closed === 2) onClose(clean);
  };
  const fail = (): void => {
    clean = false;
    a.destroy();
    b.destroy();
  };
  a.on('error', fail);
  b.on('error', fail);
  a.on('close', close);
  b.on('close', close);
  a.pipe(b);
  b.pipe(a);
  if (idleMs > 0) {
    let last = Date.now();
    const touch = (): void => {
      last = Date.now();
    };
    a.on('data', touch);
    b.on('data', touch);
    const timer = setInterval(() => {
      if (Date.now() - last < idleMs) return;
      clearInterval(timer);
      a.destroy();
      b.destroy();
    }, Math.min(idleMs, 1_000));
    timer.unref();
    a.on('close', () => clearInterval(timer));
  }
}

/** writeRaw answers an upgrade request that will not be upgraded: a plain HTTP/1.1 response, then close. */
function writeRaw(socket: Duplex, reply: Reply): void {
  if (reply.body && typeof reply.body !== 'string') reply.body.destroy();
  const body = typeof reply.body === 'string' ? reply.body : '';
  let out = `HTTP/1.1 ${reply.status} ${STATUS_CODES[reply.status] ?? ''}\r\n`;
  const headers: Headers = { ...reply.headers, connection: 'close', 'content-length': String(Buffer.byteLength(body)) };
  delete headers['transfer-encoding'];
  for (const k in headers) {
    const v = headers[k]!;
    for (const one of typeof v === 'string' ? [v] : v) out += `${k}: ${one}\r\n`;
  }
  socket.end(out + '\r\n' + body);
}

/**
 * clientHeaders are the reply's headers as they go to the client: an upstream reply's hop-by-hop
 * headers (and those its Connection names) describe the upstream connection, not the client's,
 * and are left out (RFC 9110 §7.6.1); the same object when there are none, as in a local reply.
 * Done here, where the reply is written, rather than in a step's promise reaction: whatever the
 * steps did to the reply (a ResponseHeaderModifier included) is stripped all the same.
 */
function clientHeaders(reply: Reply): Headers {
  return reply.origin === 'upstream' ? withoutHopByHop(reply.headers) : reply.headers;
}

/** forClient shapes a local error made before an Exchange exists (bad head, not ready, bad body) for its client. */
function forClient(req: ServerRequest, reply: Reply): Reply {
  return isGrpc(req) ? grpcErrorReply(reply) : reply;
}

/** isGrpc: the request is a gRPC call (not gRPC-Web), as Exchange.grpc says. */
function isGrpc(req: ServerRequest): boolean {
  const ct = req.headers['content-type'];
  return typeof ct === 'string' && ct.startsWith('application/grpc') && !ct.startsWith('application/grpc-web');
}

/**
 * write sends a reply. A reply sent before the client's request body has fully arrived (an
 * error, a timeout, a redirect) closes the HTTP/1.1 connection after it: otherwise node:http
 * would keep reading (and discarding) whatever a slow client still trickles, holding the
 * connection for as long as it likes.
 */
function write(res: ServerReply, reply: Reply, req: ServerRequest): void {
  reply.headers = clientHeaders(reply);
  if (res instanceof H2Response) {
    writeH2(res, reply, req as H2Request);
    return;
  }
  if (!req.complete) res.shouldKeepAlive = false;
  if (res.destroyed) {
    if (reply.body && typeof reply.body !== 'string') reply.body.destroy();
    return;
  }
  try {
    res.writeHead(reply.status, reply.headers);
  } catch (err) {
    // An upstream header Node refuses to send (invalid characters): answer 502 instead.
    if (reply.body && typeof reply.body !== 'string') reply.body.destroy();
    const r = errorReply(new WeftError('WEFT_UPSTREAM_PROTOCOL', `upstream sent an invalid header: ${(err as Error).message}`, 502));
    res.writeHead(r.status, r.headers);
    res.end(r.body as string);
    return;
  }
  const b = reply.body;
  if (b === null) res.end();
  else if (typeof b === 'string') res.end(b);
  else if (b instanceof UpstreamBody) b.sendTo(res);
  else pipe(b, res);
}

/**
 * writeH2 sends a reply on an HTTP/2 stream. No body: one HEADERS frame that ends the stream
 * (gRPC "trailers-only", which gRPC clients read as the status). With a body: the head, the
 * body, then the trailers (H2Response.writeHead).
 */
function writeH2(res: H2Response, reply: Reply, req: H2Request): void {
  // Once the response is complete, RST_STREAM NO_ERROR asks the client to stop sending the rest
  // of its body (RFC 9113 §8.1); the connection's other streams carry on.
  if (!req.complete) req.stream.once('finish', () => stopStream(req));
  const b = reply.body;
  if (res.destroyed) {
    if (b && typeof b !== 'string') b.destroy();
    return;
  }
  try {
    if (b === null) {
      res.respondHeadersOnly(reply.status, reply.headers);
      return;
    }
    res.writeHead(reply.status, reply.headers);
  } catch (err) {
    // An upstream header or status node:http2 refuses to send: answer 502 instead.
    if (b && typeof b !== 'string') b.destroy();
    const r = errorReply(new WeftError('WEFT_UPSTREAM_PROTOCOL', `upstream sent an invalid header: ${(err as Error).message}`, 502));
    res.writeHead(r.status, r.headers);
    res.end(r.body as string);
    return;
  }
  if (typeof b === 'string') res.end(b);
  else if (b instanceof UpstreamBody) b.sendTo(res);
  else pipe(b, res);
}

/** stopStream closes an HTTP/2 request stream whose response is complete but whose body never finished. */
function stopStream(req: H2Request): void {
  const st = req.stream;
  if (!req.complete && !st.destroyed && !st.closed) st.close(h2constants.NGHTTP2_NO_ERROR);
}

/**
 * pipe streams an upstream body (a Readable: an HTTP/2 upstream's stream) to the client: each
 * chunk written as it comes, the body paused while the response is full and resumed on its
 * 'drain'. Not Readable.pipe() nor stream.pipeline(): they add half a dozen listeners to both
 * sides (pipeline also an AbortController) per request, a measurable cost. Errors on either side
 * destroy the other (a truncated response is never passed off as complete). Response trailers
 * (gRPC's grpc-status) are known at the body's end and sent with it: as chunked trailers on
 * HTTP/1.1, as a trailing HEADERS frame on HTTP/2.
 */
function pipe(b: Readable & { trailers?: Headers | null }, res: ServerReply): void {
  const resume = (): void => {
    b.resume();
  };
  b.on('data', (chunk: Buffer) => {
    if (!res.write(chunk)) {
      b.pause();
      res.once('drain', resume);
    }
  });
  b.once('end', () => {
    const t = b.trailers;
    if (t) res.addTrailers(t);
    res.end();
  });
  b.once('error', () => res.destroy());
  res.once('close', () => {
    if (!b.readableEnded) b.destroy();
  });
}
