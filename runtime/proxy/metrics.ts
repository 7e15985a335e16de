import type { Metric, MetricType, MetricObjectWithValues, MetricValueWithName } from 'prom-client';
import { Counter, Gauge, Registry } from '../prom-client.js';

/**
 * ProxyMetrics is one prom-client registry per proxy (never the global one, so several proxies in
 * one process, as in tests, do not collide). Label values are bounded by the bundle: services,
 * rule ids, backend ids and status codes.
 */
export class ProxyMetrics {
  readonly registry = new Registry();
  /** weft_requests_total{direction,service,route,backend,code} */
  readonly requests: Counter<'direction' | 'service' | 'route' | 'backend' | 'code'> = new Counter({
    name: 'weft_requests_total',
    help: 'Requests answered, by direction, destination service, rule, backend and status code.',
    labelNames: ['direction', 'service', 'route', 'backend', 'code'] as const,
    registers: [this.registry],
    collect: () => flush(this.requests, this.requestSeries),
  });
  /** weft_request_duration_seconds{direction,service} */
  readonly duration = new CountingHistogram('weft_request_duration_seconds', 'Time from request arrival to the end of the response.', ['direction', 'service'], [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], this.registry);
  /** weft_grpc_responses_total{direction,service,route,grpc_status}: gRPC calls by the status they ended with. */
  readonly grpcResponses = new Counter({ name: 'weft_grpc_responses_total', help: 'gRPC calls answered, by direction, destination service, rule and grpc-status.', labelNames: ['direction', 'service', 'route', 'grpc_status'] as const, registers: [this.registry] });
  /** weft_upstream_attempts_total{direction,service,backend}: every attempt, first and retries. */
  readonly attempts: Counter<'direction' | 'service' | 'backend'> = new Counter({
    name: 'weft_upstream_attempts_total',
    help: 'Upstream attempts (first attempts and retries).',
    labelNames: ['direction', 'service', 'backend'] as const,
    registers: [this.registry],
    collect: () => flush(this.attempts, this.attemptSeries),
  });
  /**
   * weft_upstream_transparent_retries_total{direction,service,backend,reason}: HTTP/2 streams the
   * peer never processed (reason REFUSED_STREAM or GOAWAY), sent once more on another session.
   * Not a route retry: counted in neither weft_upstream_attempts_total nor weft_retries_total,
   * and no retry budget is spent on it.
   */
  readonly transparentRetries = new Counter({ name: 'weft_upstream_transparent_retries_total', help: 'HTTP/2 requests the upstream never processed (REFUSED_STREAM, above a GOAWAY last-stream-id), sent again once on a new connection; not route retries.', labelNames: ['direction', 'service', 'backend', 'reason'] as const, registers: [this.registry] });
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

  // The per-request series are counted in plain numbers, found through nested maps by label
  // value (no key string built, no labels object hashed per request, as prom-client's inc(labels)
  // does), and handed to prom-client when /metrics is scraped. Bounded by the bundle's services,
  // rules and codes.
  private readonly requestSeries = new SeriesTree<CounterSeries>(5);
  private readonly durationSeries = new SeriesTree<HistogramSeries>(2);
  private readonly attemptSeries = new SeriesTree<CounterSeries>(3);
  private readonly grpcChildren = new Map<string, { inc(): void }>();

  /** request records one finished request. */
  request(direction: string, service: string, route: string, backend: string, code: number, seconds: number): void {
    let c = this.requestSeries.get5(direction, service, route, backend, code);
    if (c === undefined) {
      c = new CounterSeries({ direction, service, route, backend, code: String(code) });
      this.requestSeries.set([direction, service, route, backend, code], c);
    }
    c.n++;
    let h = this.durationSeries.get2(direction, service);
    if (h === undefined) {
      h = this.duration.series({ direction, service });
      this.durationSeries.set([direction, service], h);
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
    let c = this.attemptSeries.get3(direction, service, backend);
    if (c === undefined) {
      c = new CounterSeries({ direction, service, backend });
      this.attemptSeries.set([direction, service, backend], c);
    }
    c.n++;
  }
}

/** CounterSeries is one label set of a counter: counts not yet handed to prom-client. */
class CounterSeries {
  n = 0;
  constructor(readonly labels: Record<string, string>) {}
}

/** flush hands the counted increments to prom-client (its collect hook, run on every scrape). */
function flush(counter: Counter<string>, tree: SeriesTree<CounterSeries>): void {
  tree.forEach((s) => {
    if (s.n === 0) return;
    counter.inc(s.labels, s.n);
    s.n = 0;
  });
}

/** SeriesTree finds a series by its label values, one Map level per label: no key is built per lookup. */
class SeriesTree<T> {
  private readonly root = new Map<unknown, unknown>();
  private readonly all: T[] = [];
  constructor(private readonly depth: number) {}

  get2(a: unknown, b: unknown): T | undefined {
    return (this.root.get(a) as Map<unknown, T> | undefined)?.get(b);
  }

  get3(a: unknown, b: unknown, c: unknown): T | undefined {
    return ((this.root.get(a) as Map<unknown, unknown> | undefined)?.get(b) as Map<unknown, T> | undefined)?.get(c);
  }

  get5(a: unknown, b: unknown, c: unknown, d: unknown, e: unknown): T | undefined {
    const m3 = ((this.root.get(a) as Map<unknown, unknown> | undefined)?.get(b) as Map<unknown, unknown> | undefined)?.get(c) as Map<unknown, Map<unknown, T>> | undefined;
    return m3?.get(d)?.get(e);
  }

  set(values: readonly unknown[], series: T): void {
    if (values.length !== this.depth) throw new Error(`series needs ${this.depth} label values`);
    let m = this.root;
    for (let i = 0; i < values.length - 1; i++) {
      let next = m.get(values[i]) as Map<unknown, unknown> | undefined;
      if (next === undefined) m.set(values[i], (next = new Map()));
      m = next;
    }
    m.set(values[values.length - 1], series);
    this.all.push(series);
  }

  forEach(fn: (s: T) => void): void {
    for (const s of this.all) fn(s);
  }
}

/** HistogramSeries is one label set of a CountingHistogram: bucket counts, sum and count. */
class HistogramSeries {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(
    readonly labels: Record<string, string>,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length);
  }

  /** observe counts one value in the first bucket whose upper bound holds it (+Inf: only `count`). */
  observe(v: number): void {
    this.sum += v;
    this.count++;
    const b = this.bounds;
    for (let i = 0; i < b.length; i++) {
      if (v <= b[i]!) {
        this.counts[i]!++;
        return;
      }
    }
  }
}

/**
 * CountingHistogram is a Prometheus histogram whose series are plain counters (HistogramSeries)
 * the hot path holds directly; it is registered with prom-client as a metric object (`get()` in
 * prom-client's MetricObjectWithValues shape: cumulative `_bucket` with `le`, `_sum`, `_count`),
 * so /metrics prints it like any prom-client histogram.
 */
export class CountingHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly all: HistogramSeries[] = [];
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    private readonly bounds: readonly number[],
    registry: Registry,
  ) {
    registry.registerMetric(this as unknown as Metric);
  }

  /** series returns a new series for `labels` (the caller keeps it; one per label set). */
  series(labels: Record<string, string>): HistogramSeries {
    const s = new HistogramSeries(labels, this.bounds);
    this.all.push(s);
    return s;
  }

  /** get is prom-client's metric read: every series as cumulative buckets, sum and count. */
  get(): Promise<MetricObjectWithValues<MetricValueWithName<string>>> {
    const values: MetricValueWithName<string>[] = [];
    for (const s of this.all) {
      let acc = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        acc += s.counts[i]!;
        values.push({ metricName: `${this.name}_bucket`, labels: { ...s.labels, le: this.bounds[i]! }, value: acc });
      }
      values.push({ metricName: `${this.name}_bucket`, labels: { ...s.labels, le: '+Inf' }, value: s.count });
      values.push({ metricName: `${this.name}_sum`, labels: s.labels, value: s.sum });
      values.push({ metricName: `${this.name}_count`, labels: s.labels, value: s.count });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: 'histogram' as unknown as MetricType, values, aggregator: this.aggregator, collect: () => undefined });
  }

  /** reset zeroes every series (prom-client's Registry.resetMetrics). */
  reset(): void {
    for (const s of this.all) {
      s.counts.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }
}
