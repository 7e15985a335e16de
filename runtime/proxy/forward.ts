import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import {
  BadRequestError,
  UpstreamConnectError,
  UpstreamHeadersTooLargeError,
  UpstreamIdentityError,
  UpstreamProtocolError,
  UpstreamResetError,
  WeftError,
} from '../errors.js';
import { endpointKey } from '../policy/endpoint-key.js';
import type { ProxyContext } from './context.js';
import { errorReply, type Exchange, type Headers, type Reply } from './pipeline.js';

/**
 * UpstreamBody is the response body as a Readable fed by undici's dispatch handler, with
 * backpressure (pause when the client is slow, resume when it reads). Destroying it before the
 * end (client gone, reply discarded) aborts the upstream request.
 */
class UpstreamBody extends Readable {
  ended = false;
  constructor(private readonly ctrl: Dispatcher.DispatchController) {
    super();
  }
  override _read(): void {
    if (this.ctrl.paused) this.ctrl.resume();
  }
  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (!this.ended && !this.ctrl.aborted) this.ctrl.abort(err ?? new Error('response body discarded'));
    cb(err);
  }
  /**
   * dump discards the rest of the body (undici's name, used by discard()): a short body is read
   * to its end so the connection is reused; past `limit` bytes the request is aborted.
   */
  dump(opts: { limit: number } = { limit: 64 * 1024 }): Promise<void> {
    let seen = 0;
    return new Promise((resolve) => {
      this.on('data', (c: Buffer) => {
        seen += c.length;
        if (seen > opts.limit) this.destroy();
      });
      this.on('close', () => resolve());
      this.on('error', () => {});
      this.resume();
    });
  }
}

/**
 * forward is the terminal handler: one attempt to `ex.endpoint` over its undici Pool, with the
 * low-level dispatch API (no per-request promise wrapper or AbortSignal). Bodies stream both
 * ways. Failures become replies that say which: refused/unreachable 503, reset or closed before
 * a response 502, invalid HTTP 502, attempt timeout 504 — all but the protocol error marked
 * retriable. A client body error (bad chunked framing mid-stream) aborts the upstream request so
 * it never completes, and answers 400.
 */
export function forward(ctx: ProxyContext): (ex: Exchange) => Promise<Reply> {
  return (ex) => {
    const e = ex.endpoint;
    if (!e) return Promise.reject(new WeftError('WEFT_NO_ENDPOINT_CHOSEN', 'no endpoint was chosen for the request', 500));
    const key = endpointKey(e);
    const body = ex.body.forAttempt();
    if (body === undefined) return Promise.reject(new WeftError('WEFT_BODY_CONSUMED', 'the request body was already sent and cannot be replayed', 502));
    ctx.metrics.attempt(ex.direction, ex.service?.id ?? '', ex.backendService?.id ?? '');
    const headers: Headers = ex.headers;
    headers['host'] = ex.authority;
    const already = ex.attemptAborted;
    if (already) return Promise.resolve(failure(ex, key, already, ctx.pools.maxResponseHeadersBytes));
    return new Promise<Reply>((resolve) => {
      let upstream: UpstreamBody | null = null;
      let ctrl: Dispatcher.DispatchController | null = null;
      let pending: Error | null = null;
      ex.cancelAttempt = (reason) => {
        if (ctrl) ctrl.abort(reason);
        else pending = reason;
      };
      const handler: Dispatcher.DispatchHandler = {
        onRequestStart(c) {
          ctrl = c;
          if (pending) c.abort(pending);
        },
        onResponseStart(c, statusCode, resHeaders) {
          upstream = new UpstreamBody(c);
          resolve({ status: statusCode, headers: resHeaders as Headers, body: upstream, origin: 'upstream', code: null, retriable: false });
        },
        onResponseData(c, chunk) {
          if (upstream && !upstream.push(chunk)) c.pause();
        },
        onResponseEnd() {
          ex.cancelAttempt = null;
          if (upstream) {
            upstream.ended = true;
            upstream.push(null);
          }
        },
        onResponseError(_c, err) {
          ex.cancelAttempt = null;
          if (upstream) upstream.destroy(err);
          else resolve(failure(ex, key, err, ctx.pools.maxResponseHeadersBytes));
        },
      };
      try {
        ctx.pools.get(ctx.pools.keyFor(e, ex.backendService)).dispatch(
          {
            method: ex.method as Dispatcher.HttpMethod,
            path: ex.query === '' ? ex.path : `${ex.path}?${ex.query}`,
            headers,
            body,
            // Response-header timing is the policy's job (timeouts.*); a stalled body is cut here.
            headersTimeout: 0,
            bodyTimeout: 300_000,
          },
          handler,
        );
      } catch (err) {
        resolve(failure(ex, key, err, ctx.pools.maxResponseHeadersBytes));
      }
    });
  };
}

function failure(ex: Exchange, key: string, err: unknown, maxHeaderBytes: number): Reply {
  // Returned, never thrown: this runs inside undici's callbacks, where a throw would become an
  // 'error' event on the pool rather than a reply.
  if (ex.body.failed) return errorReply(new BadRequestError(`request body could not be read: ${ex.body.failed.message}`));
  const reason = ex.attemptAborted;
  if (reason instanceof WeftError) return errorReply(reason, reason.code === 'WEFT_BACKEND_TIMEOUT');
  if (reason) return errorReply(new WeftError('WEFT_CLIENT_GONE', 'the client went away', 499));
  const e = err as { code?: string; message?: string };
  const detail = `${e.code ?? 'error'}: ${e.message ?? String(err)}`;
  switch (e.code) {
    case 'ECONNREFUSED':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return errorReply(new UpstreamConnectError(key, detail), true);
    case 'WEFT_UPSTREAM_IDENTITY':
      return errorReply(new UpstreamIdentityError(key, e.message ?? String(err)), true);
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
      return errorReply(new UpstreamResetError(key, detail), true);
    default:
      // Not a reset: the upstream answered with a head larger than this proxy accepts.
      if (e.code === 'UND_ERR_HEADERS_OVERFLOW' || e.code === 'HPE_HEADER_OVERFLOW') return errorReply(new UpstreamHeadersTooLargeError(key, maxHeaderBytes));
      if ((e.code ?? '').startsWith('HPE_') || e.code === 'UND_ERR_INVALID_ARG' || e.code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH') return errorReply(new UpstreamProtocolError(key, detail));
      return errorReply(new UpstreamResetError(key, detail), false);
  }
}
