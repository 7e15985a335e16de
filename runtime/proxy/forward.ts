import { errors as undiciErrors } from 'undici';
import {
  BadRequestError,
  UpstreamConnectError,
  UpstreamProtocolError,
  UpstreamResetError,
  WeftError,
} from '../errors.js';
import { endpointKey } from './balancer.js';
import type { ProxyContext } from './context.js';
import { errorReply, type Exchange, type Headers, type Reply } from './pipeline.js';

/**
 * forward is the terminal handler: one attempt to `ex.endpoint` over its undici Pool. Bodies
 * stream both ways. Failures become replies that say which: refused/unreachable 503, reset or
 * closed before a response 502, invalid HTTP 502, attempt timeout 504 — the first three and the
 * timeout marked retriable. A client body error (bad chunked framing mid-stream) aborts the
 * upstream request so it never completes, and answers 400.
 */
export function forward(ctx: ProxyContext): (ex: Exchange) => Promise<Reply> {
  return async (ex) => {
    const e = ex.endpoint;
    if (!e) throw new WeftError('WEFT_NO_ENDPOINT_CHOSEN', 'no endpoint was chosen for the request', 500);
    const key = endpointKey(e);
    const body = ex.body.forAttempt();
    if (body === undefined) throw new WeftError('WEFT_BODY_CONSUMED', 'the request body was already sent and cannot be replayed', 502);
    ctx.metrics.attempts.inc({ direction: ex.direction, service: ex.service?.id ?? '', backend: ex.backendService?.id ?? '' });
    const headers: Headers = ex.headers;
    headers['host'] = ex.authority;
    try {
      const r = await ctx.pools.get(`http://${key}`).request({
        method: ex.method,
        path: ex.query === '' ? ex.path : `${ex.path}?${ex.query}`,
        headers,
        body,
        signal: ex.attemptSignal,
        // Response-header timing is the policy's job (timeouts.*); a stalled body is cut here.
        headersTimeout: 0,
        bodyTimeout: 300_000,
      });
      return { status: r.statusCode, headers: r.headers as Headers, body: r.body, origin: 'upstream', code: null, retriable: false };
    } catch (err) {
      return failure(ex, key, err);
    }
  };
}

function failure(ex: Exchange, key: string, err: unknown): Reply {
  if (ex.body.failed) throw new BadRequestError(`request body could not be read: ${ex.body.failed.message}`);
  const reason: unknown = ex.attemptSignal.aborted ? ex.attemptSignal.reason : ex.signal.aborted ? ex.signal.reason : null;
  if (reason instanceof WeftError) return errorReply(reason, reason.code === 'WEFT_BACKEND_TIMEOUT');
  if (reason !== null) return errorReply(new WeftError('WEFT_CLIENT_GONE', 'the client went away', 499));
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
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
      return errorReply(new UpstreamResetError(key, detail), true);
    default:
      if (err instanceof undiciErrors.HTTPParserError || (e.code ?? '').startsWith('HPE_')) return errorReply(new UpstreamProtocolError(key, detail));
      return errorReply(new UpstreamResetError(key, detail), false);
  }
}
