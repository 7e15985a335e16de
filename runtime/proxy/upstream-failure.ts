import {
  BadRequestError,
  UpstreamConnectError,
  UpstreamHeadersTooLargeError,
  UpstreamIdentityError,
  UpstreamProtocolError,
  UpstreamResetError,
  WeftError,
} from '../errors.js';
import { errorReply, type Exchange, type Reply } from './pipeline.js';

/**
 * upstreamFailure turns a failed attempt (either client: undici or node:http2) into the reply
 * that says which failure it was: refused/unreachable 503, reset or closed before a response 502,
 * invalid HTTP 502, attempt timeout 504 — all but the protocol error marked retriable. A client
 * body error answers 400.
 */
export function upstreamFailure(ex: Exchange, key: string, err: unknown, maxHeaderBytes = 0): Reply {
  // Returned, never thrown: this runs inside undici's callbacks, where a throw would become an
  // 'error' event on the pool rather than a reply.
  if (ex.body.failed) return errorReply(new BadRequestError(`request body could not be read: ${ex.body.failed.message}`));
  const reason = ex.attemptAborted;
  if (reason instanceof WeftError) return errorReply(reason, reason.code === 'WEFT_BACKEND_TIMEOUT');
  if (reason) return errorReply(new WeftError('WEFT_CLIENT_GONE', 'the client went away', 499));
  // node:http2 cancels the pending stream when its session fails to connect; the connect
  // failure (e.g. the endpoint's certificate names another Service) is the stream error's cause.
  const cause = (err as { cause?: { code?: string; message?: string } } | null)?.cause;
  const e = (cause?.code === 'WEFT_UPSTREAM_IDENTITY' ? cause : err) as { code?: string; message?: string };
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
    case 'ERR_HTTP2_STREAM_ERROR': // node:http2: stream reset, or session gone before the stream was processed
    case 'ERR_HTTP2_GOAWAY_SESSION':
    case 'ERR_HTTP2_SESSION_ERROR':
    case 'ERR_HTTP2_STREAM_CANCEL':
    case 'ERR_HTTP2_INVALID_SESSION':
      return errorReply(new UpstreamResetError(key, detail), true);
    default:
      // Not a reset: the upstream answered with a head larger than this proxy accepts.
      if (e.code === 'UND_ERR_HEADERS_OVERFLOW' || e.code === 'HPE_HEADER_OVERFLOW') return errorReply(new UpstreamHeadersTooLargeError(key, maxHeaderBytes));
      if ((e.code ?? '').startsWith('HPE_') || e.code === 'ERR_HTTP2_INVALID_HEADER_VALUE' || e.code === 'ERR_HTTP2_ERROR' || e.code === 'UND_ERR_INVALID_ARG' || e.code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH') return errorReply(new UpstreamProtocolError(key, detail));
      return errorReply(new UpstreamResetError(key, detail), false);
  }
}
