import { constants, type ClientHttp2Session, type ClientHttp2Stream, type ClientSessionRequestOptions, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import type { Readable } from 'node:stream';
import type { ProxyContext } from './context.js';
import { UpstreamUnprocessedError } from '../errors.js';
import { errorReply, type Exchange, type Headers, type Reply } from './pipeline.js';
import { UpstreamBody, type BodyControl } from './upstream-body.js';
import { upstreamFailure } from './upstream-failure.js';

/**
 * forwardH2 makes one attempt as a stream on the endpoint's multiplexed HTTP/2 session
 * (h2-sessions.ts). The Exchange's request fields become the request pseudo-headers
 * (`:authority` is ex.authority). Bodies stream both ways; trailers pass both ways: the client's
 * request trailers follow the body, the response trailers ride on the body (`trailers`) for the
 * listener to send. A response that ends with its headers (gRPC "trailers-only") is a reply
 * without body, so the listener answers trailers-only too.
 *
 * A stream the peer never processed (RFC 9113 §8.7: reset with REFUSED_STREAM; §6.8: above the
 * last-stream-id of its GOAWAY, or never sent because GOAWAY came first) is sent once more on
 * another session, whatever the route's retry policy (as Go's HTTP/2 transport and OkHttp do;
 * Envoy's `refused-stream` retry condition): the peer did nothing with it, so this is not a retry (no attempt counted, no retry budget spent; counted in
 * weft_upstream_transparent_retries_total). Only a body that can be sent again is (none, kept
 * whole, or a gRPC body that ended within its kept copy); otherwise, or when the second stream is
 * not processed either, the reply is 502 WEFT_UPSTREAM_UNPROCESSED (retriable by the route).
 */

const { HTTP2_HEADER_STATUS, NGHTTP2_CANCEL, NGHTTP2_FLAG_END_STREAM, NGHTTP2_NO_ERROR } = constants;

/**
 * Stream options, made once (ClientHttp2Session.request() copies them). The priority fields are
 * given (RFC 9113's defaults) so that request() checks them instead of adding four properties to
 * its copy.
 */
const NO_BODY: ClientSessionRequestOptions = Object.freeze({ endStream: true, waitForTrailers: false, weight: 16, parent: 0, exclusive: false, silent: false });
const WITH_BODY: ClientSessionRequestOptions = Object.freeze({ endStream: false, waitForTrailers: true, weight: 16, parent: 0, exclusive: false, silent: false });

function responseHeaders(h: IncomingHttpHeaders): Headers {
  const out: Headers = {};
  for (const k in h) {
    if (k.charCodeAt(0) === 58 /* ':' pseudo-header */) continue;
    const v = h[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}

function requestTrailers(ex: Exchange): OutgoingHttpHeaders {
  const t = ex.req.trailers as Record<string, string | string[] | undefined> | undefined;
  const out: OutgoingHttpHeaders = {};
  if (!t) return out;
  for (const k in t) {
    const v = t[k];
    if (v !== undefined && k.charCodeAt(0) !== 58) out[k] = v;
  }
  return out;
}

/** closedEarly is the error of a stream that closed before `what` (retriable, as a reset connection). */
function closedEarly(endpoint: string, rstCode: number | undefined, what: string): Error {
  return Object.assign(new Error(`the HTTP/2 stream to ${endpoint} closed before ${what} (RST_STREAM code ${rstCode ?? 'none'})`), { code: 'ERR_HTTP2_STREAM_CANCEL' });
}

/**
 * H2BodyControl is the UpstreamBody's handle on the HTTP/2 stream: flow control is the stream's
 * (pause stops reading, so nghttp2 stops granting window), abort is RST_STREAM CANCEL.
 */
class H2BodyControl implements BodyControl {
  aborted = false;
  constructor(private readonly stream: ClientHttp2Stream) {}
  pause(): void {
    this.stream.pause();
  }
  resume(): void {
    this.stream.resume();
  }
  abort(): void {
    this.aborted = true;
    if (!this.stream.destroyed) this.stream.close(NGHTTP2_CANCEL);
  }
}

/**
 * forwardH2 sends `body` (null, a buffer, or the client's stream) over the HTTP/2 session for
 * `poolKey` (PoolSet.keyFor); `endpoint` (`host:port`) names it in errors. The response body is
 * an UpstreamBody fed by the stream's 'data' events (as undici feeds the HTTP/1.1 one), so the
 * listener writes it straight to the client with backpressure; a stream that closes before its
 * end (reset, session gone) destroys it, and with it the client's response.
 */
export function forwardH2(ctx: ProxyContext, ex: Exchange, poolKey: string, endpoint: string, body: Buffer | Readable | null, refusedOn?: ClientHttp2Session): Promise<Reply> {
  const headers: OutgoingHttpHeaders = {};
  const h = ex.headers;
  for (const k in h) if (k !== 'host') headers[k] = h[k];
  headers[':method'] = ex.method;
  headers[':path'] = ex.query === '' ? ex.path : `${ex.path}?${ex.query}`;
  headers[':authority'] = ex.authority;
  headers[':scheme'] = poolKey.startsWith('https://') ? 'https' : 'http';
  // gRPC requires `te: trailers` on HTTP/2 (the hop-by-hop step removed the client's copy).
  if (ex.grpc) headers['te'] = 'trailers';
  return new Promise<Reply>((resolve) => {
    let stream: ClientHttp2Stream;
    try {
      stream = ctx.pools.h2.request(poolKey, headers, body === null ? NO_BODY : WITH_BODY, refusedOn);
    } catch (err) {
      resolve(upstreamFailure(ex, endpoint, err, ctx.pools.maxResponseHeadersBytes));
      return;
    }
    const session = stream.session as ClientHttp2Session | undefined;
    let answered = false;
    let upstream: UpstreamBody | null = null;
    let ended = false;
    ex.cancelAttempt = (reason) => {
      if (!stream.destroyed) stream.close(NGHTTP2_CANCEL);
      if (!answered) {
        answered = true;
        resolve(upstreamFailure(ex, endpoint, reason, ctx.pools.maxResponseHeadersBytes));
      }
    };
    if (body !== null) stream.on('wantTrailers', () => stream.sendTrailers(requestTrailers(ex)));
    stream.on('response', (resHeaders, flags) => {
      if (answered) return;
      answered = true;
      const status = Number(resHeaders[HTTP2_HEADER_STATUS]);
      if ((flags & NGHTTP2_FLAG_END_STREAM) !== 0) {
        ex.cancelAttempt = null;
        resolve({ status, headers: responseHeaders(resHeaders), body: null, origin: 'upstream', code: null, retriable: false });
        return;
      }
      const b = new UpstreamBody(new H2BodyControl(stream));
      upstream = b;
      stream.on('data', (chunk: Buffer) => b.data(chunk));
      stream.once('trailers', (t: IncomingHttpHeaders) => {
        b.trailers = responseHeaders(t);
      });
      stream.once('end', () => {
        // A stream closed under the body (its session's socket died: node:http2 ends the
        // readable side and closes with CANCEL, no 'error') is cut short, not complete.
        const code = stream.rstCode;
        if (code !== undefined && code !== NGHTTP2_NO_ERROR) {
          b.destroy(closedEarly(endpoint, code, 'the end of its body'));
          return;
        }
        ended = true;
        ex.cancelAttempt = null;
        b.end();
      });
      resolve({ status, headers: responseHeaders(resHeaders), body: b, origin: 'upstream', code: null, retriable: false });
    });
    stream.on('error', (err) => {
      ex.cancelAttempt = null;
      if (!answered) {
        answered = true;
        resolve(beforeHead(ctx, ex, poolKey, endpoint, body, stream, session, err, refusedOn));
      }
      // After the response head, the 'close' that follows ends the body.
    });
    // node:http2 closes a stream without an 'error' when its code is CANCEL, which is how it
    // closes every open stream of a session whose socket died (a peer killed, a connection
    // reset): without this, an attempt waiting for its head would wait for the route timeout.
    stream.once('close', () => {
      if (!answered) {
        answered = true;
        ex.cancelAttempt = null;
        resolve(beforeHead(ctx, ex, poolKey, endpoint, body, stream, session, closedEarly(endpoint, stream.rstCode, 'a response'), refusedOn));
      } else if (upstream !== null && !ended) upstream.destroy(closedEarly(endpoint, stream.rstCode, 'the end of its body'));
    });
    if (body === null) return;
    if (Buffer.isBuffer(body)) {
      stream.end(body);
      return;
    }
    // The client's stream: a body error aborts the upstream stream, so it never completes.
    body.on('error', (err) => stream.destroy(err));
    body.pipe(stream);
  });
}

/**
 * beforeHead is the reply to a stream that failed before its response head: a failure as
 * upstreamFailure says, unless the peer never processed the stream (H2SessionSet.unprocessed).
 * Then a first stream is sent again on another session when its body can be replayed; a second
 * one (`refusedOn` set), or one whose body cannot be replayed, is 502 WEFT_UPSTREAM_UNPROCESSED.
 * A cancelled attempt (timeout, client gone) or a client body error is never sent again.
 */
function beforeHead(
  ctx: ProxyContext,
  ex: Exchange,
  poolKey: string,
  endpoint: string,
  body: Buffer | Readable | null,
  stream: ClientHttp2Stream,
  session: ClientHttp2Session | undefined,
  err: unknown,
  refusedOn: ClientHttp2Session | undefined,
): Reply | Promise<Reply> {
  const why = ex.attemptAborted || ex.body.failed || session === undefined ? null : ctx.pools.h2.unprocessed(stream, session, err);
  if (why === null) return upstreamFailure(ex, endpoint, err, ctx.pools.maxResponseHeadersBytes);
  const what = why === 'GOAWAY' ? 'the stream was above the last-stream-id of its GOAWAY' : 'the stream was reset with REFUSED_STREAM';
  if (refusedOn !== undefined) return errorReply(new UpstreamUnprocessedError(endpoint, `${what}, on a second connection too`), true);
  // What the first stream sent can be sent again: nothing, a kept buffer, or a gRPC body's copy.
  const again = body === null || Buffer.isBuffer(body) ? body : ex.body.replayable ? ex.body.forAttempt() : undefined;
  if (again === undefined) return errorReply(new UpstreamUnprocessedError(endpoint, `${what}, and its body was streamed, so it cannot be sent again`), true);
  ctx.metrics.transparentRetries.inc({ direction: ex.direction, service: ex.service?.id ?? '', backend: ex.backendService?.id ?? '', reason: why });
  return forwardH2(ctx, ex, poolKey, endpoint, again, session);
}
