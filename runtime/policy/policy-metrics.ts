import { Counter, Gauge, type Registry } from '../prom-client.js';

/** EjectionSource lists the endpoints ejected right now, for the gauge sampled at scrape time. */
export type EjectionSource = () => Iterable<{ service: string; endpoint: string; ejected: boolean }>;

/**
 * PolicyMetrics are the traffic-policy counters, registered on the proxy's own registry (one per
 * proxy, so several proxies in one process do not collide). Label values are bounded by the
 * bundle (service, policy, endpoint ids) or by a fixed set (reason, kind).
 */
export class PolicyMetrics {
  /** weft_authz_denied_total{service,policy}: policy is `mesh-default` when the default denied. */
  readonly denied: Counter<'service' | 'policy'>;
  /** weft_rate_limited_total{direction,service,policy} */
  readonly rateLimited: Counter<'direction' | 'service' | 'policy'>;
  /** weft_pool_overflow_total{service,endpoint} */
  readonly poolOverflow: Counter<'service' | 'endpoint'>;
  /** weft_outlier_ejections_total{service,endpoint} */
  readonly ejections: Counter<'service' | 'endpoint'>;
  /** weft_outlier_ejected{service,endpoint}: 1 while ejected, sampled at scrape. */
  readonly ejected: Gauge<'service' | 'endpoint'>;
  /** weft_retry_budget_exhausted_total{service}: retries not sent because the budget was spent. */
  readonly budgetExhausted: Counter<'service'>;
  /** weft_fault_injected_total{service,fault,kind}: kind delay|abort. */
  readonly faults: Counter<'service' | 'fault' | 'kind'>;
  /** weft_bad_path_total{reason}: request targets refused by path normalisation. */
  readonly badPath: Counter<'reason'>;

  constructor(registry: Registry, ejections: EjectionSource) {
    const registers = [registry];
    this.denied = new Counter({ name: 'weft_authz_denied_total', help: 'Requests refused by authorization, by the deciding policy.', labelNames: ['service', 'policy'] as const, registers });
    this.rateLimited = new Counter({ name: 'weft_rate_limited_total', help: 'Requests refused by a rate limit (429).', labelNames: ['direction', 'service', 'policy'] as const, registers });
    this.poolOverflow = new Counter({ name: 'weft_pool_overflow_total', help: 'Requests refused because the endpoint connection pool was full (503).', labelNames: ['service', 'endpoint'] as const, registers });
    this.ejections = new Counter({ name: 'weft_outlier_ejections_total', help: 'Endpoints ejected by outlier detection.', labelNames: ['service', 'endpoint'] as const, registers });
    this.ejected = new Gauge({
      name: 'weft_outlier_ejected',
      help: 'Endpoints currently ejected by outlier detection (1 while ejected).',
      labelNames: ['service', 'endpoint'] as const,
      registers,
      collect() {
        this.reset();
        for (const e of ejections()) this.set({ service: e.service, endpoint: e.endpoint }, e.ejected ? 1 : 0);
      },
    });
    this.budgetExhausted = new Counter({ name: 'weft_retry_budget_exhausted_total', help: 'Retries not sent because the retry budget was spent.', labelNames: ['service'] as const, registers });
    this.faults = new Counter({ name: 'weft_fault_injected_total', help: 'Faults injected, by kind (delay, abort).', labelNames: ['service', 'fault', 'kind'] as const, registers });
    this.badPath = new Counter({ name: 'weft_bad_path_total', help: 'Request targets refused by path normalisation (400).', labelNames: ['reason'] as const, registers });
  }
}
