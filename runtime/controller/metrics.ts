import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * ControllerMetrics is the controller's Prometheus registry (its own, not prom-client's global
 * one, so several controllers can live in one test process). Names start with
 * `weft_controller_`; docs/protocol.md lists them.
 */
export class ControllerMetrics {
  readonly registry = new Registry();
  /** 1 for the bundle being served, labelled with its digest and commit; nothing before the first. */
  readonly bundleInfo = new Gauge({
    name: 'weft_controller_bundle_info',
    help: 'The bundle being served (value 1), by digest and revision (commit SHA).',
    labelNames: ['digest', 'revision'] as const,
    registers: [this.registry],
  });
  readonly compileDuration = new Histogram({
    name: 'weft_controller_compile_duration_seconds',
    help: 'Time to compile one commit, by result.',
    labelNames: ['result'] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly compiles = new Counter({
    name: 'weft_controller_compiles_total',
    help: 'Commits compiled, by result (ok: a bundle; failed: error diagnostics, the previous bundle stays live).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly lastCompileOk = new Gauge({
    name: 'weft_controller_last_compile_success',
    help: '1 when the most recent commit compiled, 0 when it failed (the previous bundle is still served).',
    registers: [this.registry],
  });
  readonly connectedProxies = new Gauge({
    name: 'weft_controller_connected_proxies',
    help: 'Proxies heard from recently (a bundle request or status report within the lost-after window).',
    registers: [this.registry],
  });
  readonly waitingRequests = new Gauge({
    name: 'weft_controller_waiting_requests',
    help: 'Long-poll bundle requests being held right now.',
    registers: [this.registry],
  });
  readonly proxiesByState = new Gauge({
    name: 'weft_controller_proxies',
    help: 'Known proxies by state (active on the current digest, behind, rejected, lost).',
    labelNames: ['state'] as const,
    registers: [this.registry],
  });
  readonly propagation = new Histogram({
    name: 'weft_controller_propagation_seconds',
    help: 'From noticing a new commit to every live proxy reporting its bundle active.',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });
  readonly webhooks = new Counter({
    name: 'weft_controller_webhooks_total',
    help: 'Push webhooks received, by result (accepted, ignored, unauthorized, bad_request).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly registrations = new Counter({
    name: 'weft_controller_registrations_total',
    help: 'Instance registration requests, by result (changed: new or different; renewed: lease only; deregistered).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly instances = new Gauge({
    name: 'weft_controller_registered_instances',
    help: 'Instances holding a registration lease, by readiness.',
    labelNames: ['ready'] as const,
    registers: [this.registry],
  });
  readonly certificates = new Counter({
    name: 'weft_controller_certificates_total',
    help: 'POST /v1/certificates by kind (bootstrap, renewal) and result (issued, refused).',
    labelNames: ['kind', 'result'] as const,
    registers: [this.registry],
  });
  readonly authFailures = new Counter({
    name: 'weft_controller_auth_failures_total',
    help: 'Requests to proxy-facing routes refused for their client certificate, by reason code.',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  readonly connectionsRefused = new Counter({
    name: 'weft_controller_connections_refused_total',
    help: 'Connections closed on arrival because the listener (main, dashboard) held its maximum: reason max-connections (--max-connections) or max-unauthenticated (--max-unauthenticated-connections, TLS connections without a valid client certificate), or pipelining (more than 16 requests pipelined on one connection, closed).',
    labelNames: ['listener', 'reason'] as const,
    registers: [this.registry],
  });
  readonly repoErrors = new Counter({
    name: 'weft_controller_repository_errors_total',
    help: 'Failed reads of the repository (fetch, rev-parse).',
    registers: [this.registry],
  });

  constructor(processMetrics = true) {
    if (processMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'weft_controller_' });
  }

  /** setBundle points weft_controller_bundle_info at exactly one digest. */
  setBundle(digest: string, revision: string): void {
    this.bundleInfo.reset();
    this.bundleInfo.set({ digest, revision }, 1);
  }
}
