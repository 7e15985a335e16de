import type { IncomingMessage } from 'node:http';
import type { H2Request } from './h2-server-stream.js';
import type { Duplex, Readable } from 'node:stream';
import type { Endpoint, Rule, ServiceEntry, WeightedBackend } from '../../schemas/bundle.js';
import type { CallerIdentity } from '../identity.js';
import { errorReplyBody, WeftError, type RuntimeCode } from '../errors.js';
import type { RouteDecision, Router } from '../router/index.js';
import type { Headers } from '../policy/headers.js';
import type { RequestBody } from './body.js';
import type { UpstreamBody } from './upstream-body.js';

/**
 * The request pipeline. Every step has ONE shape, `(next: Handler) => Handler` (undici's
 * interceptors), and a handler answers an Exchange with a Reply rather than writing to the socket,
 * so retries can discard a reply, timeouts can replace one and header filters can edit one. Only
 * the listener (listener.ts) writes a Reply to the client.
 */

/** Direction: `outbound` (this instance's app calls others) or `inbound` (peers call this instance). */
export type Direction = 'outbound' | 'inbound';

export type { Headers };

/** Protocol is what the client spoke to the listener. */
export type Protocol = 'HTTP/1.1' | 'HTTP/2';

/** ExchangeInit is what the listener knows when a request arrives. */
export interface ExchangeInit {
  readonly id: string;
  readonly direction: Direction;
  readonly req: IncomingMessage | H2Request;
  readonly protocol: Protocol;
  /** The Upgrade token of an HTTP/1.1 upgrade request (`websocket`); absent or null otherwise. */
  readonly upgrade?: string | null;
  readonly clientAddress: string;
  readonly startedAt: number;
  readonly router: Router;
  readonly self: { readonly service: string; readonly namespace: string };
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly authority: string;
  readonly headers: Headers;
  readonly body: RequestBody;
}

/**
 * Exchange is one request as it moves through the pipeline. Fields marked readonly are fixed when
 * the request arrives; the others are filled in by steps, in this order:
 * route.ts (decision, service, rule) → backend.ts (backend, backendService) →
 * endpoint.ts, once per attempt (endpoint) → forward.ts.
 * The request fields (method, path, query, authority, headers) are what goes upstream; filters edit them.
 *
 * Aborting: `abort(reason)` ends the whole exchange (client gone, request timeout) and
 * `abortAttempt(reason)` only the attempt in flight (backendRequest timeout). The AbortSignals
 * (`signal`, `attemptSignal`) are created only when a step asks for one: an AbortController per
 * request is a measurable cost on the hot path, and most requests never need one.
 */
export class Exchange {
  /** Random id, also the span id the proxy puts in traceparent. */
  readonly id: string;
  readonly direction: Direction;
  /** The client's request as the listener's server saw it (HTTP/1.1 or HTTP/2). */
  readonly req: IncomingMessage | H2Request;
  /** What the client spoke; steps never need it, the forwarder and the access log do. */
  readonly protocol: Protocol;
  /**
   * True for a gRPC request (content-type application/grpc, +proto, +json, …): errors the proxy
   * makes are then gRPC statuses (grpc-status.ts) and the upstream hop is HTTP/2.
   */
  readonly grpc: boolean;
  /** The Upgrade token (`websocket`) of an HTTP/1.1 upgrade request, else null: forwarded over HTTP/1.1, then piped. */
  readonly upgrade: string | null;
  /** Address of the TCP peer (the app for outbound, a peer proxy for inbound). */
  readonly clientAddress: string;
  /** performance.now() when the request arrived. */
  readonly startedAt: number;
  /** The route table this request started with; a reload never changes it mid-request. */
  readonly router: Router;
  /** This proxy's own Service. */
  readonly self: { readonly service: string; readonly namespace: string };
  /** Who is calling: inbound from the IdentityProvider, outbound this proxy's own Service. */
  caller: CallerIdentity | null = null;

  method: string;
  /** Path without query, as it will be sent upstream. */
  path: string;
  /** Query without '?', '' when none; filters keep it. */
  query: string;
  /** Host header sent upstream. */
  authority: string;
  /** Request headers to send upstream (hop-by-hop removed by the hop-by-hop step). */
  headers: Headers;
  readonly body: RequestBody;

  /** Set by route.ts (outbound); inbound leaves it null. */
  decision: RouteDecision | null = null;
  /** Destination Service (outbound: resolved from Host; inbound: this proxy's Service, if in the bundle). */
  service: ServiceEntry | null = null;
  /** The rule that applies (timeouts, retry, filters); null inbound. */
  rule: Rule | null = null;
  /** Chosen weighted backend (outbound), set by backend.ts. */
  backend: WeightedBackend | null = null;
  /** The backend's ServiceEntry, whose endpoints its BackendPolicy chooses from. */
  backendService: ServiceEntry | null = null;
  /** Endpoint of the current attempt, set by endpoint.ts (inbound: the local app). */
  endpoint: Endpoint | null = null;
  /** 1 for the first attempt; retry.ts increments it. 0 before any attempt. */
  attempt = 0;
  /** Vetoes on retrying (a retry budget pushes one); all must return true for a retry. */
  readonly retryGates: RetryGate[] = [];
  /** Called once when the response is finished or the client went away (metrics, access log). */
  readonly onDone: ((ex: Exchange, outcome: Outcome) => void)[] = [];
  /** Free-form fields for the access log (e.g. `policy: "deny ns/name"`). */
  readonly notes: Record<string, string> = {};

  /** Set by forward.ts while an attempt is in flight: cancels it. */
  cancelAttempt: ((reason: Error) => void) | null = null;
  private abortReason: Error | null = null;
  private attemptReason: Error | null = null;
  private ac: AbortController | null = null;
  private attemptSig: AbortSignal | null = null;

  constructor(init: ExchangeInit) {
    this.id = init.id;
    this.direction = init.direction;
    this.req = init.req;
    this.protocol = init.protocol;
    const ct = init.headers['content-type'];
    // gRPC-Web (application/grpc-web*) is HTTP/1.1-compatible and keeps HTTP errors.
    this.grpc = typeof ct === 'string' && ct.startsWith('application/grpc') && !ct.startsWith('application/grpc-web');
    this.upgrade = init.upgrade ?? null;
    this.clientAddress = init.clientAddress;
    this.startedAt = init.startedAt;
    this.router = init.router;
    this.self = init.self;
    this.method = init.method;
    this.path = init.path;
    this.query = init.query;
    this.authority = init.authority;
    this.headers = init.headers;
    this.body = init.body;
  }

  /** aborted is the reason the whole exchange was aborted, or null. Cheap: no signal created. */
  get aborted(): Error | null {
    return this.abortReason;
  }

  /** abort ends the exchange: the attempt in flight is cancelled; retries stop. First reason wins. */
  abort(reason: Error): void {
    if (this.abortReason) return;
    this.abortReason = reason;
    this.ac?.abort(reason);
    this.cancelAttempt?.(reason);
  }

  /** abortAttempt cancels only the attempt in flight (a retry may follow). */
  abortAttempt(reason: Error): void {
    this.attemptReason = reason;
    this.cancelAttempt?.(reason);
  }

  /** attemptAborted is why the current attempt was cancelled (abortAttempt or abort), or null. */
  get attemptAborted(): Error | null {
    return this.abortReason ?? this.attemptReason;
  }

  /** controller aborts the exchange; created on first use. Aborting it is the same as abort(). */
  get controller(): AbortController {
    if (!this.ac) {
      const ac = new AbortController();
      this.ac = ac;
      if (this.abortReason) ac.abort(this.abortReason);
      else ac.signal.addEventListener('abort', () => this.abort(ac.signal.reason instanceof Error ? ac.signal.reason : new Error(String(ac.signal.reason))), { once: true });
    }
    return this.ac;
  }

  /** signal is aborted when the exchange is (client gone, request timeout). */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** attemptSignal is the current attempt's signal (backendRequest timeout), else `signal`. */
  get attemptSignal(): AbortSignal {
    return this.attemptSig ?? this.signal;
  }

  set attemptSignal(s: AbortSignal) {
    this.attemptSig = s;
  }

  /** resetAttempt starts a fresh attempt: no attempt signal, no attempt abort reason. */
  resetAttempt(): void {
    this.attemptSig = null;
    this.attemptReason = null;
  }
}

/** RetryGate may veto one retry; returning false returns the failed reply as it is. */
export type RetryGate = (ex: Exchange, reply: Reply) => boolean;

/** Outcome is how an exchange ended, seen by onDone hooks. */
export interface Outcome {
  readonly status: number;
  /** Error code when the proxy answered itself, else null. */
  readonly code: RuntimeCode | null;
  /** For a gRPC call: the grpc-status it ended with (trailers, or headers-only), else null. */
  readonly grpcStatus: string | null;
  /** Seconds from arrival to the end of the response. */
  readonly durationSeconds: number;
  /** False when the client disconnected before the response was complete. */
  readonly completed: boolean;
}

/**
 * ReplyBody is a streamed body: an HTTP/1.1 upstream's (UpstreamBody, written straight from
 * undici's handler to the client) or any other Readable (an HTTP/2 stream).
 */
export type ReplyBody = Readable | UpstreamBody;

/** Reply is an answer: from upstream (body streamed) or produced locally. */
export interface Reply {
  status: number;
  headers: Headers;
  body: ReplyBody | string | null;
  readonly origin: 'upstream' | 'local';
  /** Stable error code of a local error reply; null otherwise. */
  readonly code: RuntimeCode | null;
  /** True when the failure happened before any response (connection refused/reset, attempt timeout). */
  readonly retriable: boolean;
  /** For an accepted Upgrade (101): the upstream connection, to be piped to the client's. */
  readonly upgraded?: Duplex;
}

/** Handler answers an exchange. It may throw a WeftError; the listener turns it into a reply. */
export type Handler = (ex: Exchange) => Promise<Reply>;

/**
 * Fact names something a step establishes about the exchange that later (inner) steps rely on.
 * A step lists the facts it `needs` and the facts it `provides`; compose() refuses a list in
 * which a step needs a fact no earlier step provides, so moving a line cannot silently switch a
 * policy off (linkerd2-proxy checks each layer's fit the same way).
 */
export type Fact =
  /** Hop-by-hop headers (and those named in Connection) are gone from `ex.headers`. */
  | 'hop-by-hop-removed'
  /** X-Forwarded-For / -Proto / -Host are set on `ex.headers`. */
  | 'forwarded-headers'
  /** `traceparent` carries this proxy's span (when the mesh traces). */
  | 'trace-context'
  /** `ex.caller` is decided and `weft-source` says the same (or is gone). */
  | 'caller'
  /** `ex.path` is the normalised path. */
  | 'normalized-path'
  /** `ex.service` (and outbound `ex.rule`, `ex.decision`) are set, or the request was answered. */
  | 'route'
  /** Authorization admitted the caller. */
  | 'authorized'
  /** `ex.backend` and `ex.backendService` are set, or the request was answered. */
  | 'backend'
  /** The backend's retry budget counted the request and gates its retries. */
  | 'retry-budget'
  /** Inside one attempt: inner steps run once per attempt (a retry runs them again). */
  | 'attempt'
  /** `ex.attemptSignal` is this attempt's (backendRequest timeout). */
  | 'attempt-deadline'
  /** `ex.endpoint` is this attempt's endpoint. */
  | 'endpoint'
  /** The attempt holds a slot of its endpoint's connection pool. */
  | 'pool-slot';

/**
 * StepPlan is what is fixed for many requests at once, known when a route table is built: the
 * table, the matched rule (null before routing, and inbound), whether the call is gRPC, and the
 * direction. A step's `idle(plan)` reads only these (never per-request state, never state that
 * changes without a reload).
 */
export interface StepPlan {
  readonly direction: Direction;
  readonly router: Router;
  readonly rule: Rule | null;
  readonly grpc: boolean;
}

/** Step is one concern of the pipeline: `wrap(next)` returns a handler that may call `next`. */
export interface Step {
  /** Unique within a pipeline; used in errors and `/config`. */
  readonly name: string;
  /** Facts earlier (outer) steps must have provided; checked once by compose(). */
  readonly needs: readonly Fact[];
  /** Facts this step establishes before it calls `next`. */
  readonly provides: readonly Fact[];
  /** The one pipeline this step belongs in; absent: both. compose() refuses it in the other. */
  readonly direction?: Direction;
  /**
   * idle says the step has nothing to do for every request of `plan` (no filters on the rule, no
   * timeout, no rate limit, access log off...): the plan's chain is composed without it, so it
   * costs nothing there. Its `provides` must then hold without it (vacuously: "the attempt
   * deadline" of a rule without one). Absent: the step always runs. Steps before the one that
   * provides `route` see `plan.rule === null` and may only look at the table.
   */
  idle?(plan: StepPlan): boolean;
  wrap(next: Handler): Handler;
}

/** PipelineError: the step list is malformed (checked once, at start-up). */
export class PipelineError extends Error {
  override name = 'PipelineError';
}

/** Terminal is the innermost handler (forward.ts) and the facts it needs. */
export interface Terminal {
  readonly name: string;
  readonly needs: readonly Fact[];
  readonly handler: Handler;
}

/**
 * checkSteps verifies a step list, outermost first, ending in `terminal`: every step has a name
 * and a wrap function, names are unique, every step belongs in the `direction` pipeline, and
 * each step's (and the terminal's) needs are provided
 * by an earlier step. Throws PipelineError naming the step, the missing fact and the steps that
 * could provide it.
 */
export function checkSteps(steps: readonly Step[], terminal: Terminal, direction: Direction): void {
  const seen = new Set<string>();
  const have = new Set<Fact>();
  const providers = (fact: Fact): string => {
    const names = steps.filter((s) => s.provides.includes(fact)).map((s) => `"${s.name}"`);
    return names.length > 0 ? `it must come after ${names.join(' or ')}` : 'no step in the list provides it';
  };
  for (const s of steps) {
    if (!s || typeof s.wrap !== 'function' || typeof s.name !== 'string' || s.name === '' || !Array.isArray(s.needs) || !Array.isArray(s.provides)) {
      throw new PipelineError('every step needs a name, needs, provides and a wrap function');
    }
    if (seen.has(s.name)) throw new PipelineError(`step "${s.name}" appears twice`);
    if (s.direction !== undefined && s.direction !== direction) throw new PipelineError(`step "${s.name}" belongs in the ${s.direction} pipeline, not the ${direction} one`);
    seen.add(s.name);
    for (const f of s.needs) if (!have.has(f)) throw new PipelineError(`step "${s.name}" needs "${f}", which no earlier step provides: ${providers(f)}`);
    for (const f of s.provides) have.add(f);
  }
  for (const f of terminal.needs) if (!have.has(f)) throw new PipelineError(`"${terminal.name}" needs "${f}", which no step provides: ${providers(f)}`);
}

/** ComposeOptions: `full` composes every step for every request (no plans), the general path. */
export interface ComposeOptions {
  readonly full?: boolean;
}

/**
 * compose builds the handler for a list of steps, outermost first, around `terminal`. It checks
 * once, at start-up (checkSteps), that the order is sound and that every step returns a function.
 *
 * Unless `full`, the steps are planned: the list is cut after the step that provides `route`;
 * the steps before it get one chain per route table (and gRPC or not), the steps after it one per
 * rule, each composed from only the steps that are not idle for that plan. Chains are built on
 * the first request of a plan and kept (per table, so a reload starts afresh; chains with the same
 * steps are shared), so per request the cost of planning is two WeakMap lookups, and a step a
 * route does not need costs nothing. `full` gives the general path, every step on every request
 * (`weft proxy --full-pipeline`); both answer the same (test/proxy/step-plan.test.ts).
 */
export function compose(steps: readonly Step[], terminal: Terminal, direction: Direction, opts: ComposeOptions = {}): Handler {
  checkSteps(steps, terminal, direction);
  const full = chainOf(steps, terminal.handler);
  if (opts.full === true || !steps.some((s) => s.idle !== undefined)) return full;
  const cut = steps.findIndex((s) => s.provides.includes('route'));
  const outer = steps.slice(0, cut + 1);
  const inner = steps.slice(cut + 1);
  const innerChains = new Map<string, Handler>();
  const innerPlans = new WeakMap<object, [Handler | undefined, Handler | undefined]>();
  const innerFor = (ex: Exchange): Handler => {
    // Outbound chains depend on the rule; inbound (no rule) on the table.
    const key: object = ex.rule ?? ex.router;
    let pair = innerPlans.get(key);
    if (pair === undefined) innerPlans.set(key, (pair = [undefined, undefined]));
    const i = ex.grpc ? 1 : 0;
    return (pair[i] ??= planned(inner, { direction, router: ex.router, rule: ex.rule, grpc: ex.grpc }, terminal.handler, innerChains));
  };
  const toInner: Handler = inner.length === 0 ? terminal.handler : (ex) => innerFor(ex)(ex);
  const outerChains = new Map<string, Handler>();
  const outerPlans = new WeakMap<Router, [Handler | undefined, Handler | undefined]>();
  return (ex) => {
    let pair = outerPlans.get(ex.router);
    if (pair === undefined) outerPlans.set(ex.router, (pair = [undefined, undefined]));
    const i = ex.grpc ? 1 : 0;
    const h = (pair[i] ??= planned(outer, { direction, router: ex.router, rule: null, grpc: ex.grpc }, toInner, outerChains));
    return h(ex);
  };
}

/** chainOf wraps `steps`, outermost first, around `end`. */
function chainOf(steps: readonly Step[], end: Handler): Handler {
  let handler = end;
  for (let i = steps.length - 1; i >= 0; i--) {
    const step = steps[i]!;
    const next = step.wrap(handler);
    if (typeof next !== 'function') throw new PipelineError(`step "${step.name}" did not return a handler`);
    handler = next;
  }
  return handler;
}

/** planned is the chain of the steps not idle for `plan`, shared with any plan that keeps the same steps. */
function planned(steps: readonly Step[], plan: StepPlan, end: Handler, chains: Map<string, Handler>): Handler {
  const kept = steps.filter((s) => s.idle === undefined || !s.idle(plan));
  const key = kept.map((s) => s.name).join(',');
  let h = chains.get(key);
  if (h === undefined) chains.set(key, (h = chainOf(kept, end)));
  return h;
}

/** planSteps lists the steps that run for `plan` (the names, in order): /config and tests show it. */
export function planSteps(steps: readonly Step[], plan: StepPlan): string[] {
  return steps.filter((s) => s.idle === undefined || !s.idle(plan)).map((s) => s.name);
}

/**
 * missingFact reports a step that found a fact it needs unset at run time. compose() makes this
 * impossible for a checked list, so it is a bug, answered 500 (WEFT_INTERNAL) rather than passed
 * over: a policy is never skipped silently.
 */
export function missingFact(step: string, fact: Fact): never {
  throw new WeftError('WEFT_INTERNAL', `step "${step}" ran without "${fact}"`, 500);
}

/** localReply is a reply the proxy makes itself. */
export function localReply(status: number, body: string, code: RuntimeCode | null = null, headers: Headers = {}, retriable = false): Reply {
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
    const dump = (b as { dump?: (o?: { limit: number }) => Promise<void> }).dump;
    if (typeof dump === 'function') dump.call(b, { limit: 64 * 1024 }).catch(() => {});
    else b.destroy();
  }
}
