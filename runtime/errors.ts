/**
 * Runtime errors: every failure the proxy, the controller, the bundle sources and the identity
 * library report has a stable code in RUNTIME_ERRORS below (like undici's `UND_ERR_*`), and the
 * errors a request can get have a class in this file. Codes appear in response bodies
 * (`weft: <code>: <message>`), the `weft-error` header, the access log, `/config`, metrics labels
 * and the controller's `{error: {code, message}}`, so they never change meaning once released.
 * docs/runtime-errors.md lists exactly these codes (test/runtime/errors.test.ts checks it, and
 * that no source file writes a code missing here). User mistakes never print a stack trace.
 */

/** RuntimeErrorInfo describes one code. */
export interface RuntimeErrorInfo {
  /** Which part reports it. */
  readonly where: 'proxy' | 'bundle' | 'source' | 'controller' | 'identity' | 'process';
  /**
   * HTTP statuses it is answered with, the first being the usual one; empty when it is never an
   * HTTP answer (a log line, /config, a status report, an exit). `configured`: the policy sets it.
   */
  readonly status: readonly number[] | 'configured';
  /** What it means, one sentence. */
  readonly meaning: string;
}

/** RUNTIME_ERRORS is the one table of runtime error codes: code → where, HTTP status, meaning. */
export const RUNTIME_ERRORS = {
  // ---- the proxy's request path: answered locally ------------------------------------------
  WEFT_NOT_READY: { where: 'proxy', status: [503], meaning: 'No bundle is active yet: the proxy has neither loaded one from its source nor from --cache-dir.' },
  WEFT_BAD_REQUEST: { where: 'proxy', status: [400], meaning: 'The request is malformed (HTTP framing, a body that could not be read); the connection is closed.' },
  WEFT_DUPLICATE_HOST: { where: 'proxy', status: [400], meaning: 'The request has more than one Host header (RFC 9112 §3.2).' },
  WEFT_HEADERS_TOO_LARGE: { where: 'proxy', status: [431], meaning: 'The request headers are over the listener limit (maxRequestHeadersBytes, or their count).' },
  WEFT_REQUEST_HEADERS_TIMEOUT: { where: 'proxy', status: [408], meaning: 'The request headers did not all arrive within requestHeadersTimeout.' },
  WEFT_STREAM_IDLE_TIMEOUT: { where: 'proxy', status: [408], meaning: 'Nothing moved in either direction for streamIdleTimeout while the request body was unfinished.' },
  WEFT_REQUEST_RECEIVE_TIMEOUT: { where: 'proxy', status: [408], meaning: 'The whole request (head and body) had not arrived within MeshConfig spec.proxy.requestTimeout and no response had started; the connection is closed.' },
  WEFT_UPGRADE_UNSUPPORTED: { where: 'proxy', status: [400], meaning: 'An HTTP/1.1 Upgrade other than websocket; the connection is closed (HTTP/2 is served with prior knowledge or ALPN).' },
  WEFT_BAD_PATH: { where: 'proxy', status: [400], meaning: 'The request path cannot be normalised safely (an encoded slash, a bad escape, ..) and was not forwarded.' },
  WEFT_UNKNOWN_HOST: { where: 'proxy', status: [404], meaning: 'The Host (or absolute-form authority) names no mesh Service the caller may reach; the proxy is never an open proxy.' },
  WEFT_NO_ROUTE: { where: 'proxy', status: [404], meaning: 'The Service has routes, but none matches the request.' },
  WEFT_RATE_LIMITED: { where: 'proxy', status: [429], meaning: 'A RateLimitPolicy bucket for this request is empty; Retry-After says when to try again.' },
  WEFT_FORBIDDEN: { where: 'proxy', status: [403], meaning: 'An AuthorizationPolicy (or the mesh default) refused the caller; the body names the deciding policy.' },
  WEFT_FAULT_ABORT: { where: 'proxy', status: 'configured', meaning: "A Fault filter aborted the request with its abort.status instead of forwarding it." },
  WEFT_UNSUPPORTED_FILTER: { where: 'proxy', status: [500], meaning: 'The matched rule has a filter type this proxy does not know; it is never skipped silently.' },
  WEFT_NO_BACKEND: { where: 'proxy', status: [500], meaning: 'The matched rule has no backends.' },
  WEFT_NO_BACKEND_WEIGHT: { where: 'proxy', status: [503], meaning: 'Every backend of the matched rule has weight 0.' },
  WEFT_INVALID_BACKEND: { where: 'proxy', status: [500], meaning: 'The weighted choice landed on a backend the compiler found invalid.' },
  WEFT_NO_ENDPOINTS: { where: 'proxy', status: [503], meaning: 'The backend Service has no endpoint to send to.' },
  WEFT_ENDPOINTS_UNKNOWN: { where: 'proxy', status: [503], meaning: 'Discovery is on and the controller has not yet given this proxy an endpoint set for the Service (just started, or unreachable since), and git lists none.' },
  WEFT_NO_READY_ENDPOINTS: { where: 'proxy', status: [503], meaning: "The Service's endpoint set is known, but no instance is registered or every one fails its app health probe." },
  WEFT_POOL_OVERFLOW: { where: 'proxy', status: [503], meaning: "The endpoint's connection pool and its wait queue are full (maxConnections and maxPendingRequests); not retried." },
  WEFT_UPSTREAM_CONNECT: { where: 'proxy', status: [503], meaning: 'The connection to the endpoint failed (refused, unreachable, connect timeout); retriable.' },
  WEFT_UPSTREAM_IDENTITY: { where: 'proxy', status: [503], meaning: "The endpoint's certificate does not prove the SPIFFE ID its Service must have; retriable on another endpoint." },
  WEFT_UPSTREAM_RESET: { where: 'proxy', status: [502], meaning: 'The upstream closed or reset the connection before a response; retriable.' },
  WEFT_UPSTREAM_UNPROCESSED: { where: 'proxy', status: [502], meaning: 'The HTTP/2 upstream closed the stream unprocessed (REFUSED_STREAM, or above its GOAWAY last-stream-id) and the one transparent retry on a new connection was refused too, or the request body was streamed and cannot be replayed; retriable.' },
  WEFT_UPSTREAM_PROTOCOL: { where: 'proxy', status: [502], meaning: 'The upstream answered with something that is not valid HTTP, or with a header Node refuses to send on.' },
  WEFT_UPSTREAM_HEADERS_TOO_LARGE: { where: 'proxy', status: [502], meaning: "The upstream's response headers are over maxResponseHeadersBytes." },
  WEFT_UPSTREAM_IDLE_TIMEOUT: { where: 'proxy', status: [504], meaning: 'The whole request was sent and the upstream sent nothing for streamIdleTimeout.' },
  WEFT_BACKEND_TIMEOUT: { where: 'proxy', status: [504], meaning: 'One attempt got no response headers within timeouts.backendRequest; retriable.' },
  WEFT_REQUEST_TIMEOUT: { where: 'proxy', status: [504], meaning: 'The whole request, retries and backoff included, got no response headers within timeouts.request.' },
  WEFT_BODY_CONSUMED: { where: 'proxy', status: [502], meaning: 'A retry needed the request body again, but it was streamed (too large to keep) and already sent.' },
  WEFT_CLIENT_GONE: { where: 'proxy', status: [499], meaning: 'The client went away before the response was complete; 499 is recorded in metrics and the access log, never sent.' },
  WEFT_INTERNAL: { where: 'proxy', status: [500], meaning: 'The proxy failed handling the request; this is a bug (report it).' },
  WEFT_NO_ENDPOINT_CHOSEN: { where: 'proxy', status: [500], meaning: 'The forwarder was reached without an endpoint; this is a bug (report it).' },

  // ---- bundles the proxy refuses (nothing changes; /config and the status report say why) -----
  WEFT_BUNDLE_TOO_LARGE: { where: 'bundle', status: [], meaning: 'The bundle is larger than the size limit.' },
  WEFT_BUNDLE_UNREADABLE: { where: 'bundle', status: [], meaning: 'The bundle file cannot be read.' },
  WEFT_BUNDLE_PARSE: { where: 'bundle', status: [], meaning: 'The bundle is not valid JSON.' },
  WEFT_BUNDLE_SCHEMA: { where: 'bundle', status: [], meaning: 'The bundle does not match schemas/bundle.schema.json (or this installation has no bundle schema).' },
  WEFT_BUNDLE_DIGEST: { where: 'bundle', status: [], meaning: 'The bundle content does not hash to the digest it claims.' },
  WEFT_BUNDLE_UNSIGNED: { where: 'bundle', status: [], meaning: 'The proxy has a --trust-key and the bundle is not signed.' },
  WEFT_BUNDLE_SIGNATURE: { where: 'bundle', status: [], meaning: 'The bundle signature does not verify with the trusted key.' },
  WEFT_BUNDLE_ROLLBACK: { where: 'bundle', status: [], meaning: 'The bundle was issued before the active one (no rollback by replay; a revert is a new bundle).' },
  WEFT_BUNDLE_BUILD: { where: 'bundle', status: [], meaning: 'A verified bundle could not be turned into a route table.' },

  // ---- bundle sources, on the proxy's side ----------------------------------------------------
  WEFT_SRC_NOT_FOUND: { where: 'source', status: [], meaning: 'The --bundle file does not exist (the proxy waits for it to appear).' },
  WEFT_SRC_UNREADABLE: { where: 'source', status: [], meaning: 'The --bundle file is not a regular file or cannot be read.' },
  WEFT_SRC_TOO_LARGE: { where: 'source', status: [], meaning: 'A bundle from the source is larger than the size limit and was not loaded.' },
  WEFT_SRC_UNREACHABLE: { where: 'source', status: [], meaning: 'The controller did not answer (connection refused, reset, timeout).' },
  WEFT_SRC_HTTP: { where: 'source', status: [], meaning: 'The controller answered with an unexpected HTTP status.' },
  WEFT_READ_TOO_LARGE: { where: 'source', status: [], meaning: 'A file or body is larger than its limit and was refused before being read whole.' },

  // ---- the controller ---------------------------------------------------------------------------
  WEFT_CTL_REPO: { where: 'controller', status: [], meaning: 'The repository cannot be opened, cloned or fetched, or the branch does not exist.' },
  WEFT_CTL_STORE: { where: 'controller', status: [503], meaning: 'The bundle store cannot be read or written.' },
  WEFT_CTL_LISTEN: { where: 'controller', status: [], meaning: 'The controller cannot listen on the address given.' },
  WEFT_CTL_BAD_REQUEST: { where: 'controller', status: [400, 413], meaning: 'A request to the controller is malformed (bad JSON, missing field) or too large (413).' },
  WEFT_CTL_NOT_READY: { where: 'controller', status: [503], meaning: 'No bundle exists yet (the first compile has not finished, or failed).' },
  WEFT_CTL_NOT_FOUND: { where: 'controller', status: [404], meaning: 'No such path on the controller.' },
  WEFT_CTL_METHOD: { where: 'controller', status: [405], meaning: 'The path exists, but not with this method.' },
  WEFT_CTL_INTERNAL: { where: 'controller', status: [500], meaning: 'The controller failed answering a request; this is a bug.' },
  WEFT_CTL_FORBIDDEN: { where: 'controller', status: [403], meaning: 'The request needs a client certificate naming a Service, or the certificate names another identity than the one the request is for (a proxy may speak only for its own Service).' },
  WEFT_CTL_MISDIRECTED: { where: 'controller', status: [421], meaning: 'The dashboard listener was asked for a Host that is not a name of this machine (an IP address, localhost, its host name, or a --dashboard-host name): refused against DNS rebinding.' },
  WEFT_CTL_TOO_MANY: { where: 'controller', status: [429], meaning: 'The instance registry is full (in total or for this Service); the registration was refused.' },
  WEFT_CTL_WEBHOOK_SIGNATURE: { where: 'controller', status: [401], meaning: 'A webhook request has a missing or wrong X-Hub-Signature-256, or the controller has no --webhook-secret (required unless --insecure).' },
  WEFT_CTL_FLEET_FULL: { where: 'controller', status: [429], meaning: 'The proxy table is full; the proxy is served but not recorded.' },
  WEFT_CTL_INSECURE: { where: 'controller', status: [], meaning: 'The controller was started without --ca-dir and without --insecure.' },
  WEFT_CTL_TOKEN_LEDGER: { where: 'controller', status: [503], meaning: 'The record of used join tokens cannot be read or written; no token is accepted until it can.' },

  // ---- identity (runtime/identity/, and the proxy's certificates) ------------------------------
  WEFT_ID_SPIFFE_ID: { where: 'identity', status: [400, 403], meaning: 'A string is not a SPIFFE ID (spiffe://<trust-domain>/<path>), or not the workload form /ns/<namespace>/sa/<service>.' },
  WEFT_ID_TRUST_DOMAIN: { where: 'identity', status: [400, 403], meaning: 'A trust domain name is malformed, or an identity belongs to another trust domain.' },
  WEFT_ID_CA: { where: 'identity', status: [500], meaning: 'The mesh CA files (ca.pem, ca.key) are missing, unreadable, or do not belong together.' },
  WEFT_ID_CSR: { where: 'identity', status: [400], meaning: 'A certificate signing request is malformed, its signature does not verify, or its key is not ECDSA P-256.' },
  WEFT_ID_CERT_CHAIN: { where: 'identity', status: [403], meaning: 'A certificate was not issued by a CA in the trust bundle.' },
  WEFT_ID_CERT_EXPIRED: { where: 'identity', status: [403], meaning: 'A certificate is not valid at this time (expired, or not valid yet).' },
  WEFT_ID_CERT_SAN: { where: 'identity', status: [403], meaning: 'A certificate does not carry exactly one URI SAN that is a SPIFFE ID in the trust domain.' },
  WEFT_ID_CERT_MISSING: { where: 'identity', status: [401], meaning: 'No client certificate was presented where one is required.' },
  WEFT_ID_CERT: { where: 'identity', status: [403], meaning: 'A certificate cannot be parsed, or is a CA certificate where a leaf is required.' },
  WEFT_ID_TOKEN: { where: 'identity', status: [400, 401, 403], meaning: 'A join token is malformed, not signed by the mesh CA, or bound to another trust domain.' },
  WEFT_ID_TOKEN_EXPIRED: { where: 'identity', status: [403], meaning: 'A join token has expired.' },
  WEFT_ID_TOKEN_USED: { where: 'identity', status: [403], meaning: 'A join token has no uses left.' },
  WEFT_ID_ISSUE: { where: 'identity', status: [], meaning: 'The proxy could not get a certificate from the controller (the message says why).' },
  WEFT_ID_NO_TOKEN: { where: 'identity', status: [], meaning: 'The proxy has no cached certificate and no join token (--token or --token-file).' },
  WEFT_ID_CONTROLLER_URL: { where: 'identity', status: [], meaning: 'Certificates from the controller need an https:// --controller URL.' },
  WEFT_ID_CERT_FILES: { where: 'identity', status: [], meaning: 'The --cert, --key or --ca files cannot be read or do not belong together.' },

  // ---- processes ---------------------------------------------------------------------------------
  WEFT_CONFIG: { where: 'process', status: [], meaning: 'A bad flag or an unreadable file at start-up (one line, exit 2).' },
  WEFT_STARTUP: { where: 'process', status: [], meaning: 'The proxy could not start (a listener failed to bind); everything it opened was closed (exit 2).' },
} as const satisfies Record<string, RuntimeErrorInfo>;

/** RuntimeCode is a code of RUNTIME_ERRORS: the only strings a WeftError may carry. */
export type RuntimeCode = keyof typeof RUNTIME_ERRORS;

/** isRuntimeCode: is `s` (from the wire, say) one of RUNTIME_ERRORS? */
export function isRuntimeCode(s: unknown): s is RuntimeCode {
  return typeof s === 'string' && Object.hasOwn(RUNTIME_ERRORS, s);
}

/** usualStatus is the HTTP status a code is usually answered with (RUNTIME_ERRORS), 0 when none. */
export function usualStatus(code: RuntimeCode): number {
  const s: RuntimeErrorInfo['status'] = RUNTIME_ERRORS[code].status;
  return s === 'configured' ? 0 : (s[0] ?? 0);
}

/** WeftError is the base class: `code` is stable, `status` is the HTTP status a request gets. */
export class WeftError extends Error {
  override name = 'WeftError';
  constructor(
    readonly code: RuntimeCode,
    message: string,
    /** The HTTP status a request gets; RUNTIME_ERRORS' usual one unless given. */
    readonly status = usualStatus(code),
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

/**
 * UpstreamUnprocessedError: the HTTP/2 upstream closed the stream without processing it (RFC 9113
 * §8.7: REFUSED_STREAM, or a stream above its GOAWAY's last-stream-id) and the proxy could not
 * send it again transparently: its body was streamed, or the one retry on a new session was not
 * processed either (502, retriable).
 */
export class UpstreamUnprocessedError extends WeftError {
  override name = 'UpstreamUnprocessedError';
  constructor(endpoint: string, detail: string) {
    super('WEFT_UPSTREAM_UNPROCESSED', `upstream ${endpoint} did not process the request: ${detail}`, 502);
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

/**
 * RequestReceiveTimeoutError: the request body was still arriving `requestTimeout` after the
 * request started, and no response had begun (408; Envoy's `request_timeout`).
 */
export class RequestReceiveTimeoutError extends WeftError {
  override name = 'RequestReceiveTimeoutError';
  constructor(ms: number) {
    super('WEFT_REQUEST_RECEIVE_TIMEOUT', `the whole request did not arrive within requestTimeout ${ms}ms`, 408);
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
