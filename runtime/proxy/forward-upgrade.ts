import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { ProxyContext } from './context.js';
import type { Exchange, Headers, Reply } from './pipeline.js';
import { upstreamFailure } from './upstream-failure.js';

/**
 * forwardUpgrade makes one attempt of an HTTP/1.1 Upgrade (WebSocket) over the endpoint's undici
 * pool. A 101 answer becomes a Reply carrying the upstream connection (`upgraded`), which the
 * listener pipes to the client's; any other answer is an ordinary response (the app refused the
 * upgrade) and is passed on as such.
 */
export function forwardUpgrade(ctx: ProxyContext, ex: Exchange, poolKey: string, endpoint: string): Promise<Reply> {
  const headers: Headers = ex.headers;
  headers['host'] = ex.authority;
  return new Promise<Reply>((resolve) => {
    let answered = false;
    let ctrl: Dispatcher.DispatchController | null = null;
    ex.cancelAttempt = (reason) => {
      if (ctrl) ctrl.abort(reason);
      if (!answered) {
        answered = true;
        resolve(upstreamFailure(ex, endpoint, reason));
      }
    };
    const chunks: Buffer[] = [];
    let status = 0;
    let resHeaders: Headers = {};
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(c) {
        ctrl = c;
      },
      onRequestUpgrade(_c, statusCode, h, socket: Duplex) {
        ex.cancelAttempt = null;
        if (answered) {
          socket.destroy();
          return;
        }
        answered = true;
        resolve({ status: statusCode, headers: h as Headers, body: null, origin: 'upstream', code: null, retriable: false, upgraded: socket });
      },
      onResponseStart(_c, statusCode, h) {
        status = statusCode;
        resHeaders = h as Headers;
      },
      onResponseData(_c, chunk) {
        chunks.push(chunk);
      },
      onResponseEnd() {
        ex.cancelAttempt = null;
        if (answered) return;
        answered = true;
        // The app answered without upgrading (a refusal): a small body, passed on whole.
        const body = Buffer.concat(chunks).toString('latin1');
        resolve({ status, headers: { ...resHeaders, 'content-length': String(Buffer.byteLength(body, 'latin1')) }, body, origin: 'upstream', code: null, retriable: false });
      },
      onResponseError(_c, err) {
        ex.cancelAttempt = null;
        if (answered) return;
        answered = true;
        resolve(upstreamFailure(ex, endpoint, err, ctx.pools.maxResponseHeadersBytes));
      },
    };
    try {
      ctx.pools.get(poolKey).dispatch({ method: 'GET', path: ex.query === '' ? ex.path : `${ex.path}?${ex.query}`, headers, upgrade: ex.upgrade, headersTimeout: 0 }, handler);
    } catch (err) {
      answered = true;
      resolve(upstreamFailure(ex, endpoint, err, ctx.pools.maxResponseHeadersBytes));
    }
  });
}
