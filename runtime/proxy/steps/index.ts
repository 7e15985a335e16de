import { accessLog } from './access-log.js';
import { backend } from './backend.js';
import { backendTimeout } from './backend-timeout.js';
import { callerIdentity, sourceStamp } from './caller-identity.js';
import type { ProxyContext } from '../context.js';
import { appEndpoint, endpoint } from './endpoint.js';
import { filters } from './filters.js';
import { forwardedHeaders } from './forwarded-headers.js';
import { hopByHop } from './hop-by-hop.js';
import { observe } from './observe.js';
import { forward } from '../forward.js';
import type { Step, Terminal } from '../pipeline.js';
import { retry } from './retry.js';
import { inboundRoute, route } from './route.js';
import { requestTimeout } from './request-timeout.js';
import { tracing } from './tracing.js';
import { authorization } from './authorization.js';
import { connectionPool } from './connection-pool.js';
import { outlierDetection } from './outlier-detection.js';
import { pathNormalization } from './path-normalization.js';
import { rateLimit } from './rate-limit.js';
import { retryBudget } from './retry-budget.js';

/**
 * The pipelines, outermost first, in ONE place: adding a step is one line here (the step's file
 * is runtime/proxy/steps/<name>.ts). The terminal handler (forward.ts) comes after the last step.
 * Order matters and is deliberate: observation wraps everything; headers are cleaned before
 * routing looks at them; the request timeout covers every attempt and backoff; per-attempt steps
 * (after `retry`) run once per attempt, and per-endpoint policies go after `endpoint`, which sets
 * `ex.endpoint`. Each step declares the facts it needs and provides (pipeline.ts: Fact), and
 * compose() refuses at start-up a list where a step comes before what it needs; test/proxy/
 * pipeline.test.ts pins both orders.
 */

/** outboundSteps: the app calls another Service through this proxy. */
export function outboundSteps(ctx: ProxyContext): Step[] {
  return [
    observe(ctx),
    accessLog(ctx),
    hopByHop(),
    forwardedHeaders(),
    tracing(ctx),
    sourceStamp(ctx),
    pathNormalization(ctx), // before routing, as Envoy does: `/x/../api` must not dodge the /api route's limits and filters
    route(ctx),
    rateLimit(ctx), // RateLimitPolicies on the matched HTTPRoute
    filters(ctx),
    requestTimeout(ctx),
    backend(ctx),
    retryBudget(ctx), // counts the request; gates the retries below
    retry(ctx),
    backendTimeout(ctx),
    endpoint(ctx),
    connectionPool(ctx), // overflow answered here is not seen by outlier detection
    outlierDetection(ctx),
  ];
}

/** inboundSteps: a peer calls this instance; the request goes to the local app. */
export function inboundSteps(ctx: ProxyContext): Step[] {
  return [
    observe(ctx),
    accessLog(ctx),
    hopByHop(),
    forwardedHeaders(),
    tracing(ctx),
    callerIdentity(ctx),
    inboundRoute(ctx),
    pathNormalization(ctx), // first: authorization, rate limits and the app see the same path
    authorization(ctx),
    rateLimit(ctx),
    appEndpoint(ctx),
  ];
}

/** terminal is the innermost handler of both pipelines: one attempt forwarded to `ex.endpoint`. */
export function terminal(ctx: ProxyContext): Terminal {
  return { name: 'forward', needs: ['endpoint'], handler: forward(ctx) };
}
