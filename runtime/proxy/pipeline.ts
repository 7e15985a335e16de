import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import type { Endpoint, Rule, ServiceEntry, WeightedBackend } from '../../schemas/bundle.js';
import type { CallerIdentity } from '../identity.js';
import { errorReplyBody, WeftError } from '../errors.js';
import type { RouteDecision, Router } from '../router/index.js';
import type { EndpointPicker } from './balancer.js';
import type { RequestBody } from './body.js';

/**
 * The request pipeline. Every step has ONE shape, `(next: Handler) => Handler` (undici's
 * interceptors), and a handler answers an Exchange with a Reply rather than writing to the socket,
 * so retries can discard a reply, timeouts can replace one and header filters can edit one. Only
 * the listener (server.ts) writes a Reply to the client.
 */

/** Direction: `outbound` (this instance's app calls others) or `inbound` (peers call this instance). */
export type Direction = 'outbound' | 'inbound';

/** Headers are lower-case names; a repeated header is an array. */
export type Headers = Record<string, string | string[]>;

/**
 * Exchange is one request as it moves through the pipeline. Fields marked readonly are fixed when
 * the request arrives; the others are filled in by steps, in this order:
 * route.ts (decision, service, rule) → backend.ts (backend, backendService) →
 * endpoint.ts, once per attempt (endpoint) → forward.ts.
 * The request fields (method, path, query, authority, headers) are what goes upstream; filters edit them.
 */
export interface Exchange {
  /** Random id, also the span id the proxy puts in traceparent. */
  readonly id: string;
  readonly direction: Direction;
  readonly req: IncomingMessage;
  /** Address of the TCP peer (the app for outbound, a peer proxy for inbound). */
  readonly clientAddress: string;
  /** performance.now() when the request arrived. */
  readonly startedAt: number;
  /** The route table this request started with; a reload never changes it mid-request. */
  readonly router: Router;
  /** This proxy's own Service. */
  readonly self: { readonly service: string; readonly namespace: string };
  /** Aborts the whole request (client gone, request timeout); its reason is a WeftError or Error. */
  readonly controller: AbortController;
  /** `controller.signal`. */
  readonly signal: AbortSignal;
  /** Who is calling: inbound from the IdentityProvider, outbound this proxy's own Service. */
  caller: CallerIdentity | null;

  method: string;
  /** Path without query, as it will be sent upstream. */
  path: string;
  /** Query without '?', '' when none; filters keep it. */
  query: string;
  /** Host header sent upstream. */
  authority: string;
  /** Request headers to send upstream (hop-by-hop already removed). */
  headers: Headers;
  readonly body: RequestBody;

  /** Set by route.ts (outbound); inbound leaves it null. */
  decision: RouteDecision | null;
  /** Destination Service (outbound: resolved from Host; inbound: this proxy's Service, if in the bundle). */
  service: ServiceEntry | null;
  /** The rule that applies (timeouts, retry, filters); null inbound. */
  rule: Rule | null;
  /** Chosen weighted backend (outbound), set by backend.ts. */
  backend: WeightedBackend | null;
  /** The backend's ServiceEntry, whose endpoints the picker chooses from. */
  backendService: ServiceEntry | null;
  /** Chooses endpoints for this request; a policy step may replace it (load balancing). */
  picker: EndpointPicker;
  /** Endpoint of the current attempt, set by endpoint.ts (inbound: the local app). */
  endpoint: Endpoint | null;
  /** 1 for the first attempt; retry.ts increments it. 0 before any attempt. */
  attempt: number;
  /** Signal for the current attempt (the request signal plus the backendRequest timeout). */
  attemptSignal: AbortSignal;
  /** Vetoes on retrying (a retry budget pushes one); all must return true for a retry. */
  readonly retryGates: RetryGate[];
  /** Called once when the response is finished or the client went away (metrics, access log). */
  readonly onDone: ((ex: Exchange, outcome: Outcome) => void)[];
  /** Free-form fields for the access log (e.g. `policy: "deny ns/name"`). */
  readonly notes: Record<string, string>;
}

/** RetryGate may veto one retry; returning false returns the failed reply as it is. */
export type RetryGate = (ex: Exchange, reply: Reply) => boolean;

/** Outcome is how an exchange ended, seen by onDone hooks. */
export interface Outcome {
  readonly status: number;
  /** Error code when the proxy answered itself, else null. */
  readonly code: string | null;
  /** Seconds from arrival to the end of the response. */
  readonly durationSeconds: number;
  /** False when the client disconnected before the response was complete. */
  readonly completed: boolean;
}

/** Reply is an answer: from upstream (body streamed) or produced locally. */
export interface Reply {
  status: number;
  headers: Headers;
  body: Readable | string | null;
  readonly origin: 'upstream' | 'local';
  /** Stable error code of a local error reply; null otherwise. */
  readonly code: string | null;
  /** True when the failure happened before any response (connection refused/reset, attempt timeout). */
  readonly retriable: boolean;
}

/** Handler answers an exchange. It may throw a WeftError; the listener turns it into a reply. */
export type Handler = (ex: Exchange) => Promise<Reply>;

/** Step is one concern of the pipeline: `wrap(next)` returns a handler that may call `next`. */
export interface Step {
  /** Unique within a pipeline; used in errors and `/config`. */
  readonly name: string;
  wrap(next: Handler): Handler;
}

/** PipelineError: the step list is malformed (checked once, at start-up). */
export class PipelineError extends Error {
  override name = 'PipelineError';
}

/**
 * compose builds the handler for a list of steps, outermost first, around `terminal`. It checks
 * once, at start-up, that names are unique and every step returns a function.
 */
export function compose(steps: readonly Step[], terminal: Handler): Handler {
  const seen = new Set<string>();
  for (const s of steps) {
    if (!s || typeof s.wrap !== 'function' || typeof s.name !== 'string' || s.name === '') throw new PipelineError('every step needs a name and a wrap function');
    if (seen.has(s.name)) throw new PipelineError(`step "${s.name}" appears twice`);
    seen.add(s.name);
  }
  let handler = terminal;
  for (let i = steps.length - 1; i >= 0; i--) {
    const step = steps[i]!;
    const next = step.wrap(handler);
    if (typeof next !== 'function') throw new PipelineError(`step "${step.name}" did not return a handler`);
    handler = next;
  }
  return handler;
}

/** localReply is a reply the proxy makes itself. */
export function localReply(status: number, body: string, code: string | null = null, headers: Headers = {}, retriable = false): Reply {
  return {
    status,
    headers: { 'content-type': 'text/plain; charset=utf-8', 'content-length': String(Buffer.byteLength(body)), ...headers },
    body,
    origin: 'local',
    code,
    retriable,
  };
}

/** errorReply turns a WeftError into a reply whose body names the code; `weft-error` carries it too. */
export function errorReply(err: WeftError, retriable = false): Reply {
  return localReply(err.status, errorReplyBody(err), err.code, { 'weft-error': err.code }, retriable);
}

/** discard releases a reply that will not be sent (a retried attempt), so its connection is reused. */
export function discard(reply: Reply): void {
  const b = reply.body;
  if (b && typeof b !== 'string') {
    b.on('error', () => {});
    // undici's body.dump() reads a little (keeping the connection) and destroys past its limit.
    const dump = (b as Readable & { dump?: (o?: { limit: number }) => Promise<void> }).dump;
    if (typeof dump === 'function') dump.call(b, { limit: 64 * 1024 }).catch(() => {});
    else b.destroy();
  }
}
