import { constants, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import type { Readable } from 'node:stream';
import type { ProxyContext } from './context.js';
import type { Exchange, Headers, Reply } from './pipeline.js';
import { upstreamFailure } from './upstream-failure.js';

/**
 * forwardH2 makes one attempt as a stream on the endpoint's multiplexed HTTP/2 session
 * (h2-sessions.ts). The Exchange's request fields become the request pseudo-headers
 * (`:authority` is ex.authority). Bodies stream both ways; trailers pass both ways: the client's
 * request trailers follow the body, the response trailers ride on the body (`trailers`) for the
 * listener to send. A response that ends with its headers (gRPC "trailers-only") is a reply
 * without body, so the listener answers trailers-only too.
 */

/** ResponseStream is the response body: the HTTP/2 stream itself, with the trailers once known. */
type ResponseStream = ClientHttp2Stream & { trailers?: Headers | null };

const { HTTP2_HEADER_STATUS, NGHTTP2_CANCEL } = constants;

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

/**
 * forwardH2 sends `body` (null, a buffer, or the client's stream) over the HTTP/2 session for
 * `poolKey` (PoolSet.keyFor); `endpoint` (`host:port`) names it in errors.
 */
export function forwardH2(ctx: ProxyContext, ex: Exchange, poolKey: string, endpoint: string, body: Buffer | Readable | null): Promise<Reply> {
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
    let stream: ResponseStream;
    try {
      stream = ctx.pools.h2.request(poolKey, headers, { endStream: body === null, waitForTrailers: body !== null });
    } catch (err) {
      resolve(upstreamFailure(ex, endpoint, err, ctx.pools.maxResponseHeadersBytes));
      return;
    }
    let answered = false;
    ex.cancelAttempt = (reason) => {
      if (!stream.destroyed) stream.close(NGHTTP2_CANCEL);
      if (!answered) {
        answered = true;
        resolve(upstreamFailure(ex, endpoint, reason, ctx.pools.maxResponseHeadersBytes));
      }
    };
    stream.on('wantTrailers', () => {
      stream.sendTrailers(requestTrailers(ex));
    });
    stream.on('response', (resHeaders, flags) => {
      if (answered) return;
      answered = true;
      const status = Number(resHeaders[HTTP2_HEADER_STATUS]);
      const endStream = (flags & constants.NGHTTP2_FLAG_END_STREAM) !== 0;
      if (endStream) {
        ex.cancelAttempt = null;
        resolve({ status, headers: responseHeaders(resHeaders), body: null, origin: 'upstream', code: null, retriable: false });
        return;
      }
      stream.trailers = null;
      stream.once('trailers', (t: IncomingHttpHeaders) => {
        stream.trailers = responseHeaders(t);
      });
      stream.once('end', () => {
        ex.cancelAttempt = null;
      });
      resolve({ status, headers: responseHeaders(resHeaders), body: stream, origin: 'upstream', code: null, retriable: false });
    });
    stream.on('error', (err) => {
      ex.cancelAttempt = null;
      if (!answered) {
        answered = true;
        resolve(upstreamFailure(ex, endpoint, err, ctx.pools.maxResponseHeadersBytes));
      }
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
