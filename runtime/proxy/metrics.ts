import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * ProxyMetrics is one prom-client registry per proxy (never the global one, so several proxies in
 * one process, as in tests, do not collide). Label values are bounded by the bundle: services,
 * rule ids, backend ids and status codes.
 */
export class ProxyMetrics {
  readonly registry = new Registry();
  /** weft_requests_total{direction,service,route,backend,code} */
  readonly requests = new Counter({ name: 'weft_requests_total', help: 'Requests answered, by direction, destination service, rule, backend and status code.', labelNames: ['direction', 'service', 'route', 'backend', 'code'] as const, registers: [this.registry] });
  /** weft_request_duration_seconds{direction,service} */
  readonly duration = new Histogram({
    name: 'weft_request_duration_seconds',
    help: 'Time from request arrival to the end of the response.',
    labelNames: ['direction', 'service'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  /** weft_grpc_responses_total{direction,service,route,grpc_status}: gRPC calls by the status they ended with. */
  readonly grpcResponses = new Counter({ name: 'weft_grpc_responses_total', help: 'gRPC calls answered, by direction, destination service, rule and grpc-status.', labelNames: ['direction', 'service', 'route', 'grpc_status'] as const, registers: [this.registry] });
  /** weft_upstream_attempts_total{direction,service,backend}: every attempt, first and retries. */
  readonly attempts = new Counter({ name: 'weft_upstream_attempts_total', help: 'Upstream attempts (first attempts and retries).', labelNames: ['direction', 'service', 'backend'] as const, registers: [this.registry] });
  /** weft_retries_total{service,route,reason}: reason is a status code or an error code. */
  readonly retries = new Counter({ name: 'weft_retries_total', help: 'Retries made, by the reason of the failed attempt.', labelNames: ['service', 'route', 'reason'] as const, registers: [this.registry] });
  /** weft_timeouts_total{service,route,kind}: kind request|backendRequest|streamIdle|upstreamIdle|requestHeaders. */
  readonly timeouts = new Counter({ name: 'weft_timeouts_total', help: 'Timeouts, by kind (request, backendRequest, streamIdle, upstreamIdle, requestHeaders).', labelNames: ['service', 'route', 'kind'] as const, registers: [this.registry] });
  /** weft_listener_refused_total{listener,reason}: connections closed or requests refused by a listener limit. */
  readonly listenerRefused = new Counter({ name: 'weft_listener_refused_total', help: 'Connections or requests refused by a listener limit (maxConnections, header limits, timeouts), by listener and reason.', labelNames: ['listener', 'reason'] as const, registers: [this.registry] });
  /** weft_mirrors_total{result}: sent, dropped (concurrency bound or unreplayable body), failed. */
  readonly mirrors = new Counter({ name: 'weft_mirrors_total', help: 'Mirrored requests by result.', labelNames: ['result'] as const, registers: [this.registry] });
  /** weft_bundle_info{digest,revision} 1 for the active bundle. */
  readonly bundleInfo = new Gauge({ name: 'weft_bundle_info', help: 'The active bundle (value 1).', labelNames: ['digest', 'revision'] as const, registers: [this.registry] });
  /** weft_reloads_total{result}: active, unchanged, rejected. */
  readonly reloads = new Counter({ name: 'weft_reloads_total', help: 'Bundle offers by result.', labelNames: ['result'] as const, registers: [this.registry] });
  /** weft_bundle_rejections_total{code} */
  readonly rejections = new Counter({ name: 'weft_bundle_rejections_total', help: 'Rejected bundles by reason code.', labelNames: ['code'] as const, registers: [this.registry] });
  /** weft_bundle_loaded_timestamp_seconds */
  readonly loadedAt = new Gauge({ name: 'weft_bundle_loaded_timestamp_seconds', help: 'When the active bundle was loaded.', registers: [this.registry] });

  // Children by label values: prom-client hashes a labels object on every inc(); the hot path
  // looks its child up by one string instead. Bounded by the bundle's services, rules and codes.
  private readonly requestChildren = new Map<string, { inc(): void }>();
  private readonly durationChildren = new Map<string, { observe(v: number): void }>();
  private readonly attemptChildren = new Map<string, { inc(): void }>();
  private readonly grpcChildren = new Map<string, { inc(): void }>();

  /** request records one finished request. */
  request(direction: string, service: string, route: string, backend: string, code: number, seconds: number): void {
    const key = `${direction}\0${service}\0${route}\0${backend}\0${code}`;
    let c = this.requestChildren.get(key);
    if (!c) {
      c = this.requests.labels({ direction, service, route, backend, code: String(code) });
      this.requestChildren.set(key, c);
    }
    c.inc();
    const dkey = `${direction}\0${service}`;
    let h = this.durationChildren.get(dkey);
    if (!h) {
      h = this.duration.labels({ direction, service });
      this.durationChildren.set(dkey, h);
    }
    h.observe(seconds);
  }

  /** grpc records the grpc-status one gRPC call ended with. */
  grpc(direction: string, service: string, route: string, status: string): void {
    const key = `${direction}\0${service}\0${route}\0${status}`;
    let c = this.grpcChildren.get(key);
    if (!c) {
      c = this.grpcResponses.labels({ direction, service, route, grpc_status: status });
      this.grpcChildren.set(key, c);
    }
    c.inc();
  }

  /** attempt records one upstream attempt. */
  attempt(direction: string, service: string, backend: string): void {
    const key = `${direction}\0${service}\0${backend}`;
    let c = this.attemptChildren.get(key);
    if (!c) {
      c = this.attempts.labels({ direction, service, backend });
      this.attemptChildren.set(key, c);
    }
    c.inc();
  }
}
