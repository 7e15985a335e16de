/**
 * Runtime errors: every failure the proxy reports has a class here with a stable `code` (like
 * undici's `UND_ERR_*`). Codes appear in response bodies (`weft: <code>: <message>`), in the
 * access log, in `/config` (bundle rejections) and in metrics labels, so they never change
 * meaning once released. User mistakes never print a stack trace.
 */

/** WeftError is the base class: `code` is stable, `status` is the HTTP status a request gets. */
export class WeftError extends Error {
  override name = 'WeftError';
  constructor(
    readonly code: string,
    message: string,
    readonly status = 500,
  ) {
    super(message);
  }
}

// ---- request path: answered locally by the proxy -------------------------------------------

/** UnknownHostError: the Host names no mesh Service (404; the proxy is never an open proxy). */
export class UnknownHostError extends WeftError {
  override name = 'UnknownHostError';
  constructor(host: string) {
    super('WEFT_UNKNOWN_HOST', `no mesh service answers to host "${host}"`, 404);
  }
}

/** NoRouteError: the Service has routes but none matched (Gateway API: 404). */
export class NoRouteError extends WeftError {
  override name = 'NoRouteError';
  constructor(service: string) {
    super('WEFT_NO_ROUTE', `no route of service ${service} matches the request`, 404);
  }
}

/**
 * DirectResponseError: the rule has nothing to forward to (no backendRefs, or every weight 0) and
 * answers the status the bundle carries: 500, as the Gateway API conformance test
 * HTTPRouteAllBackendsWeightZero expects.
 */
export class DirectResponseError extends WeftError {
  override name = 'DirectResponseError';
  constructor(status: number, reason: string) {
    super('WEFT_NO_BACKEND', reason, status);
  }
}

/** InvalidBackendError: the weighted choice landed on a backend the compiler found invalid (500). */
export class InvalidBackendError extends WeftError {
  override name = 'InvalidBackendError';
  constructor(rule: string) {
    super('WEFT_INVALID_BACKEND', `rule ${rule} chose an invalid backend`, 500);
  }
}

/** NoEndpointsError: the backend Service has no endpoint to send to (503). */
export class NoEndpointsError extends WeftError {
  override name = 'NoEndpointsError';
  constructor(service: string) {
    super('WEFT_NO_ENDPOINTS', `service ${service} has no available endpoints`, 503);
  }
}

/**
 * EndpointsUnknownError: discovery is on, the controller has not yet given this proxy a set for
 * the Service (just started, or the controller unreachable since start) and git lists none (503).
 */
export class EndpointsUnknownError extends WeftError {
  override name = 'EndpointsUnknownError';
  constructor(service: string) {
    super('WEFT_ENDPOINTS_UNKNOWN', `no endpoint set is known yet for service ${service}`, 503);
  }
}

/**
 * NoReadyEndpointsError: the Service's endpoint set is known but nothing in it is ready: no
 * instance is registered, or every one fails its app health probe (503).
 */
export class NoReadyEndpointsError extends WeftError {
  override name = 'NoReadyEndpointsError';
  constructor(service: string, notReady: number) {
    super('WEFT_NO_READY_ENDPOINTS', notReady > 0 ? `service ${service} has ${notReady} registered instance(s), none ready` : `service ${service} has no registered instances`, 503);
  }
}

/** UpstreamConnectError: the connection to the endpoint failed (refused, unreachable): 503, retriable. */
export class UpstreamConnectError extends WeftError {
  override name = 'UpstreamConnectError';
  constructor(endpoint: string, detail: string) {
    super('WEFT_UPSTREAM_CONNECT', `cannot connect to upstream ${endpoint}: ${detail}`, 503);
  }
}

/**
 * UpstreamIdentityError: a meshed endpoint's certificate does not name the Service it was chosen
 * for (or is not a mesh certificate): the connection is refused before any request is sent (503,
 * retriable: another endpoint may be genuine).
 */
export class UpstreamIdentityError extends WeftError {
  override name = 'UpstreamIdentityError';
  constructor(endpoint: string, detail: string) {
    super('WEFT_UPSTREAM_IDENTITY', `upstream ${endpoint} failed the identity check: ${detail}`, 503);
  }
}

/** UpstreamResetError: the upstream closed or reset the connection before a response (502, retriable). */
export class UpstreamResetError extends WeftError {
  override name = 'UpstreamResetError';
  constructor(endpoint: string, detail: string) {
    super('WEFT_UPSTREAM_RESET', `upstream ${endpoint} reset the connection before responding: ${detail}`, 502);
  }
}

/** UpstreamProtocolError: the upstream sent something that is not valid HTTP (502). */
export class UpstreamProtocolError extends WeftError {
  override name = 'UpstreamProtocolError';
  constructor(endpoint: string, detail: string) {
    super('WEFT_UPSTREAM_PROTOCOL', `upstream ${endpoint} answered with invalid HTTP: ${detail}`, 502);
  }
}

/** BackendTimeoutError: one attempt exceeded `timeouts.backendRequest` (504, retriable). */
export class BackendTimeoutError extends WeftError {
  override name = 'BackendTimeoutError';
  constructor(ms: number) {
    super('WEFT_BACKEND_TIMEOUT', `upstream did not respond within backendRequest timeout ${ms}ms`, 504);
  }
}

/** RequestTimeoutError: the whole transaction exceeded `timeouts.request` (504, not retried). */
export class RequestTimeoutError extends WeftError {
  override name = 'RequestTimeoutError';
  constructor(ms: number) {
    super('WEFT_REQUEST_TIMEOUT', `request did not complete within request timeout ${ms}ms`, 504);
  }
}

/** UpgradeUnsupportedError: an HTTP/1.1 Upgrade other than websocket (400, connection closed). */
export class UpgradeUnsupportedError extends WeftError {
  override name = 'UpgradeUnsupportedError';
  constructor(token: string) {
    super('WEFT_UPGRADE_UNSUPPORTED', `Upgrade: ${token || '(empty)'} is not supported; HTTP/2 is served with prior knowledge or ALPN, WebSocket with Upgrade: websocket`, 400);
  }
}

/** BadRequestError: the client's request is malformed (bad framing, body errors): 400. */
export class BadRequestError extends WeftError {
  override name = 'BadRequestError';
  constructor(detail: string) {
    super('WEFT_BAD_REQUEST', detail, 400);
  }
}

/** DuplicateHostError: a request with more than one Host header (RFC 9112 §3.2: 400). */
export class DuplicateHostError extends WeftError {
  override name = 'DuplicateHostError';
  constructor() {
    super('WEFT_DUPLICATE_HOST', 'the request has more than one Host header (RFC 9112 §3.2)', 400);
  }
}

/**
 * HeadersTooLargeError: the request headers are over a listener limit, by bytes
 * (`maxRequestHeadersBytes`) or by count: 431, never a silently truncated request.
 */
export class HeadersTooLargeError extends WeftError {
  override name = 'HeadersTooLargeError';
  constructor(detail: string) {
    super('WEFT_HEADERS_TOO_LARGE', detail, 431);
  }
}

/** RequestHeadersTimeoutError: the request headers did not all arrive within `requestHeadersTimeout` (408). */
export class RequestHeadersTimeoutError extends WeftError {
  override name = 'RequestHeadersTimeoutError';
  constructor(ms: number) {
    super('WEFT_REQUEST_HEADERS_TIMEOUT', `request headers did not arrive within requestHeadersTimeout ${ms}ms`, 408);
  }
}

/** StreamIdleTimeoutError: the client sent nothing and was sent nothing for `streamIdleTimeout` while its request was unfinished (408). */
export class StreamIdleTimeoutError extends WeftError {
  override name = 'StreamIdleTimeoutError';
  constructor(ms: number) {
    super('WEFT_STREAM_IDLE_TIMEOUT', `no bytes from the client in either direction for streamIdleTimeout ${ms}ms while its request body was unfinished`, 408);
  }
}

/** UpstreamIdleTimeoutError: the whole request was sent and the upstream said nothing for `streamIdleTimeout` (504). */
export class UpstreamIdleTimeoutError extends WeftError {
  override name = 'UpstreamIdleTimeoutError';
  constructor(ms: number) {
    super('WEFT_UPSTREAM_IDLE_TIMEOUT', `the upstream sent nothing for streamIdleTimeout ${ms}ms`, 504);
  }
}

/**
 * UpstreamHeadersTooLargeError: the upstream's response headers are over `maxResponseHeadersBytes`
 * (502): the upstream reset nothing, its answer is too large for this proxy.
 */
export class UpstreamHeadersTooLargeError extends WeftError {
  override name = 'UpstreamHeadersTooLargeError';
  constructor(endpoint: string, limit: number) {
    super('WEFT_UPSTREAM_HEADERS_TOO_LARGE', `upstream ${endpoint} sent response headers larger than maxResponseHeadersBytes ${limit}`, 502);
  }
}

/** NotReadyError: no bundle is active yet (503). */
export class NotReadyError extends WeftError {
  override name = 'NotReadyError';
  constructor() {
    super('WEFT_NOT_READY', 'no bundle is active yet', 503);
  }
}

// ---- bundle verification: reasons a bundle is rejected ------------------------------------

/** BundleRejectedError: a candidate bundle failed verification; nothing changed. */
export class BundleRejectedError extends WeftError {
  override name = 'BundleRejectedError';
  constructor(
    code:
      | 'WEFT_BUNDLE_TOO_LARGE'
      | 'WEFT_BUNDLE_UNREADABLE'
      | 'WEFT_BUNDLE_PARSE'
      | 'WEFT_BUNDLE_SCHEMA'
      | 'WEFT_BUNDLE_DIGEST'
      | 'WEFT_BUNDLE_UNSIGNED'
      | 'WEFT_BUNDLE_SIGNATURE'
      | 'WEFT_BUNDLE_ROLLBACK'
      | 'WEFT_BUNDLE_BUILD',
    message: string,
    /** The digest the bundle claimed, when it could be read. */
    readonly digest: string | null = null,
  ) {
    super(code, message, 0);
  }
}

/**
 * SourceProblemCode: why a bundle source has nothing to offer (shown in /config and logged once
 * per change): the `--bundle` file is missing, unreadable or over the size limit; the controller
 * is unreachable or answers badly, or its bundle is over the limit.
 */
export type SourceProblemCode = 'WEFT_SRC_NOT_FOUND' | 'WEFT_SRC_UNREADABLE' | 'WEFT_SRC_TOO_LARGE' | 'WEFT_SRC_UNREACHABLE' | 'WEFT_SRC_HTTP';

/**
 * ReadLimitError: a file or body is larger than its limit; it was refused before being read
 * whole (runtime/bounded-read.ts). The message names the limit, never the content.
 */
export class ReadLimitError extends WeftError {
  override name = 'ReadLimitError';
  constructor(
    what: string,
    readonly limit: number,
    readonly size: number | null,
  ) {
    super('WEFT_READ_TOO_LARGE', `${what} is larger than the ${limit}-byte limit${size !== null ? ` (${size} bytes)` : ''}; it was not read`, 0);
  }
}

/** StartupError: the proxy could not start (a listener failed to bind...): everything it opened is closed (exit 2). */
export class StartupError extends WeftError {
  override name = 'StartupError';
  constructor(message: string) {
    super('WEFT_STARTUP', message, 0);
  }
}

/** ConfigError: a bad flag or unreadable file at start-up (printed as one line, exit 2). */
export class ConfigError extends WeftError {
  override name = 'ConfigError';
  constructor(message: string) {
    super('WEFT_CONFIG', message, 0);
  }
}

// ---- traffic policies (runtime/policy): answered locally, the reason also in `weft-reason` -----

/** ForbiddenError: an AuthorizationPolicy (or the mesh default) refused the caller (403). */
export class ForbiddenError extends WeftError {
  override name = 'ForbiddenError';
  constructor(detail: string) {
    super('WEFT_FORBIDDEN', detail, 403);
  }
}

/** RateLimitedError: a RateLimitPolicy bucket is empty (429, with Retry-After). */
export class RateLimitedError extends WeftError {
  override name = 'RateLimitedError';
  constructor(policy: string, retryAfterSeconds: number) {
    super('WEFT_RATE_LIMITED', `rate limited by RateLimitPolicy ${policy}; retry after ${retryAfterSeconds}s`, 429);
  }
}

/** PoolOverflowError: the endpoint's connection pool and its wait queue are full (503, not retried). */
export class PoolOverflowError extends WeftError {
  override name = 'PoolOverflowError';
  constructor(endpoint: string) {
    super('WEFT_POOL_OVERFLOW', `connection pool to ${endpoint} is full (maxConnections and maxPendingRequests reached)`, 503);
  }
}

/** FaultAbortError: a Fault filter aborted the request with its configured status. */
export class FaultAbortError extends WeftError {
  override name = 'FaultAbortError';
  constructor(fault: string, status: number) {
    super('WEFT_FAULT_ABORT', `aborted by Fault ${fault}`, status);
  }
}

/** BadPathError: the request path cannot be normalised safely (encoded slash, bad escape...): 400. */
export class BadPathError extends WeftError {
  override name = 'BadPathError';
  constructor(reason: string, detail: string) {
    super('WEFT_BAD_PATH', `${reason}: ${detail}`, 400);
  }
}

/** errorReplyBody is the body of a locally generated error: one line naming the code. */
export function errorReplyBody(err: WeftError): string {
  return `weft: ${err.code}: ${err.message}\n`;
}

/** messageOf is the one-line text of anything thrown (the first line of an Error's message). */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message.split('\n')[0] ?? '' : String(err);
}
