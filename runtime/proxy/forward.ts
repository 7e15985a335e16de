import type { Dispatcher } from 'undici';
import { WeftError } from '../errors.js';
import { endpointKey } from '../policy/endpoint-key.js';
import type { ProxyContext } from './context.js';
import { forwardH2 } from './forward-h2.js';
import { forwardUpgrade } from './forward-upgrade.js';
import type { Exchange, Headers, Reply } from './pipeline.js';
import { upstreamFailure } from './upstream-failure.js';
import { upstreamProtocol } from './upstream-protocol.js';
import { UpstreamBody } from './upstream-body.js';

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
      const attempt = new Attempt(ctx, ex, key, resolve);
      ex.cancelAttempt = attempt.cancel;
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
          attempt,
        );
      } catch (err) {
        resolve(upstreamFailure(ex, key, err, ctx.pools.maxResponseHeadersBytes));
      }
    });
  };
}


/**
 * Attempt is undici's dispatch handler for one HTTP/1.1 attempt: one object per attempt, its
 * callbacks prototype methods (undici calls them with the handler as `this`). The reply resolves
 * at the response head; the body is an UpstreamBody the listener writes straight to the client.
 */
class Attempt implements Dispatcher.DispatchHandler {
  private ctrl: Dispatcher.DispatchController | null = null;
  private pending: Error | null = null;
  private upstream: UpstreamBody | null = null;
  /** cancel aborts the attempt (Exchange.cancelAttempt); before undici started it, at the start. */
  readonly cancel = (reason: Error): void => {
    if (this.ctrl) this.ctrl.abort(reason);
    else this.pending = reason;
  };

  constructor(
    private readonly ctx: ProxyContext,
    private readonly ex: Exchange,
    private readonly key: string,
    private readonly resolve: (reply: Reply) => void,
  ) {}

  onRequestStart(c: Dispatcher.DispatchController): void {
    this.ctrl = c;
    if (this.pending) c.abort(this.pending);
  }

  onResponseStart(c: Dispatcher.DispatchController, statusCode: number, resHeaders: Record<string, string | string[] | undefined>): void {
    // undici hands every informational head (102 Processing, 103 Early Hints) to the handler
    // before the final one; the answer is the final one (101 goes through forward-upgrade.ts).
    // Not forwarded to the client, as Envoy does by default: only 100 is answered, locally.
    if (statusCode < 200) return;
    const upstream = new UpstreamBody(c);
    this.upstream = upstream;
    this.resolve({ status: statusCode, headers: resHeaders as Headers, body: upstream, origin: 'upstream', code: null, retriable: false });
  }

  onResponseData(_c: Dispatcher.DispatchController, chunk: Buffer): void {
    this.upstream?.data(chunk);
  }

  onResponseEnd(_c: Dispatcher.DispatchController, trailers: Record<string, string | string[] | undefined>): void {
    this.ex.cancelAttempt = null;
    const upstream = this.upstream;
    if (upstream) {
      for (const _ in trailers) {
        upstream.trailers = trailers as Headers;
        break;
      }
      upstream.end();
    }
  }

  onResponseError(_c: Dispatcher.DispatchController, err: Error): void {
    this.ex.cancelAttempt = null;
    if (this.upstream) this.upstream.destroy(err);
    else this.resolve(upstreamFailure(this.ex, this.key, err, this.ctx.pools.maxResponseHeadersBytes));
  }
}
