import type { Headers, Reply } from './pipeline.js';

/**
 * gRPC statuses for errors the proxy makes itself. A gRPC client reads the call's status from
 * `grpc-status`/`grpc-message`, not from the HTTP status, so a local error for a gRPC request is
 * answered gRPC's way: HTTP 200, `content-type: application/grpc`, and the status in a
 * headers-only ("trailers-only") response (gRPC over HTTP/2, "Responses"). The mapping follows
 * what meshes answer: no endpoint, refused or reset connections and overload are UNAVAILABLE
 * (retriable by gRPC clients); timeouts are DEADLINE_EXCEEDED; an authorization denial is
 * PERMISSION_DENIED; a rate limit is RESOURCE_EXHAUSTED; no route is UNIMPLEMENTED (gRPC's
 * mapping of HTTP 404); a malformed request is INTERNAL (HTTP 400's mapping).
 */

/** GRPC_STATUS: the gRPC status codes by name (grpc/doc/statuscodes.md). */
export const GRPC_STATUS = Object.freeze({
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
});

/**
 * GRPC_RETRY_ON: the names a retry policy may list (Envoy's `retry_on` gRPC conditions), with the
 * status each stands for.
 */
export const GRPC_RETRY_ON: Readonly<Record<string, number>> = Object.freeze({
  cancelled: GRPC_STATUS.CANCELLED,
  'deadline-exceeded': GRPC_STATUS.DEADLINE_EXCEEDED,
  internal: GRPC_STATUS.INTERNAL,
  'resource-exhausted': GRPC_STATUS.RESOURCE_EXHAUSTED,
  unavailable: GRPC_STATUS.UNAVAILABLE,
});

/** grpcStatusFor maps a local error (its Weft code and HTTP status) to a gRPC status. */
export function grpcStatusFor(code: string | null, httpStatus: number): number {
  switch (code) {
    case 'WEFT_REQUEST_TIMEOUT':
    case 'WEFT_BACKEND_TIMEOUT':
      return GRPC_STATUS.DEADLINE_EXCEEDED;
    case 'WEFT_FORBIDDEN':
      return GRPC_STATUS.PERMISSION_DENIED;
    case 'WEFT_RATE_LIMITED':
      return GRPC_STATUS.RESOURCE_EXHAUSTED;
    case 'WEFT_UNKNOWN_HOST':
    case 'WEFT_NO_ROUTE':
      return GRPC_STATUS.UNIMPLEMENTED;
    case 'WEFT_CLIENT_GONE':
      return GRPC_STATUS.CANCELLED;
    default:
      break;
  }
  if (httpStatus === 400 || httpStatus === 431) return GRPC_STATUS.INTERNAL;
  if (httpStatus === 401) return GRPC_STATUS.UNAUTHENTICATED;
  if (httpStatus === 403) return GRPC_STATUS.PERMISSION_DENIED;
  if (httpStatus === 404) return GRPC_STATUS.UNIMPLEMENTED;
  if (httpStatus === 429) return GRPC_STATUS.RESOURCE_EXHAUSTED;
  if (httpStatus === 504) return GRPC_STATUS.DEADLINE_EXCEEDED;
  if (httpStatus === 502 || httpStatus === 503) return GRPC_STATUS.UNAVAILABLE;
  return GRPC_STATUS.INTERNAL;
}

/** encodeGrpcMessage percent-encodes a grpc-message (gRPC over HTTP/2: bytes outside 0x20-0x7E and '%'). */
export function encodeGrpcMessage(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * grpcErrorReply turns a local error reply into the gRPC trailers-only answer (see the file
 * comment). The Weft code stays in `weft-error` and in the reply's code (access log, metrics).
 */
export function grpcErrorReply(reply: Reply): Reply {
  const text = typeof reply.body === 'string' ? reply.body.trim() : `weft: ${reply.code ?? `HTTP ${reply.status}`}`;
  const headers: Headers = {
    'content-type': 'application/grpc',
    'grpc-status': String(grpcStatusFor(reply.code, reply.status)),
    'grpc-message': encodeGrpcMessage(text),
  };
  if (reply.code) headers['weft-error'] = reply.code;
  const reason = reply.headers['weft-reason'];
  if (reason !== undefined) headers['weft-reason'] = reason;
  const retryAfter = reply.headers['retry-after'];
  if (retryAfter !== undefined) headers['retry-after'] = retryAfter;
  return { status: 200, headers, body: null, origin: 'local', code: reply.code, retriable: reply.retriable };
}

const TIMEOUT_UNIT_MS: Readonly<Record<string, number>> = { H: 3_600_000, M: 60_000, S: 1_000, m: 1, u: 1e-3, n: 1e-6 };

/**
 * parseGrpcTimeout reads a `grpc-timeout` header (gRPC over HTTP/2: 1-8 digits and a unit H, M, S,
 * m, u or n) as milliseconds, rounded up so a short deadline never becomes "no deadline"; null
 * when absent or malformed (then it is ignored, as servers do).
 */
export function parseGrpcTimeout(value: string | string[] | undefined): number | null {
  if (typeof value !== 'string') return null;
  const m = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (!m) return null;
  return Math.max(1, Math.ceil(Number(m[1]) * TIMEOUT_UNIT_MS[m[2]!]!));
}

/** grpcStatusOf reads the gRPC status a response carried (headers-only, or trailers), or null. */
export function grpcStatusOf(headers: Headers, trailers: Headers | null | undefined): string | null {
  const v = trailers?.['grpc-status'] ?? headers['grpc-status'];
  return typeof v === 'string' ? v : null;
}
