import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { WeftError } from '../errors.js';
import { endpointKey } from '../policy/endpoint-key.js';
import type { ProxyContext } from './context.js';
import { forwardH2 } from './forward-h2.js';
import { forwardUpgrade } from './forward-upgrade.js';
import type { Exchange, Headers, Reply } from './pipeline.js';
import { upstreamFailure } from './upstream-failure.js';
import { upstreamProtocol } from './upstream-protocol.js';

/**
 * UpstreamBody is the response body as a Readable fed by undici's dispatch handler, with
 * backpressure (pause when the client is slow, resume when it reads). Destroying it before the
 * end (client gone, reply discarded) aborts the upstream request.
 */
class UpstreamBody extends Readable {
  ended = false;
  /** The response trailers (chunked HTTP/1.1), set at the end; the listener sends them on. */
  trailers: Headers | null = null;
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
    const already = ex.attemptAborted;
    if (already) return Promise.resolve(upstreamFailure(ex, key, already, ctx.pools.maxResponseHeadersBytes));
    if (ex.upgrade !== null) return forwardUpgrade(ctx, ex, ctx.pools.keyFor(e, ex.backendService), key);
    if (upstreamProtocol(ex, e) === 'h2') return forwardH2(ctx, ex, ctx.pools.keyFor(e, ex.backendService), key, body);
    const headers: Headers = ex.headers;
    headers['host'] = ex.authority;
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
        onResponseEnd(_c, trailers) {
          ex.cancelAttempt = null;
          if (upstream) {
            upstream.ended = true;
            if (trailers && Object.keys(trailers).length > 0) upstream.trailers = trailers as Headers;
            upstream.push(null);
          }
        },
        onResponseError(_c, err) {
          ex.cancelAttempt = null;
          if (upstream) upstream.destroy(err);
          else resolve(upstreamFailure(ex, key, err, ctx.pools.maxResponseHeadersBytes));
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
        resolve(upstreamFailure(ex, key, err, ctx.pools.maxResponseHeadersBytes));
      }
    });
  };
}

