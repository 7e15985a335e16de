import { Counter, Gauge, type Registry } from '../../prom-client.js';

/**
 * MtlsMetrics are the identity metrics of one proxy, on the proxy's own registry. Label values are
 * bounded: directions, a handful of results and error codes, and callers (the mesh's Services).
 */
export class MtlsMetrics {
  /** weft_tls_handshakes_total{direction,result}: result ok, or the error code that ended it. */
  readonly handshakes: Counter<'direction' | 'result'>;
  /** weft_certificate_expiration_timestamp_seconds: notAfter of the certificate in force. */
  readonly expiry: Gauge;
  /** weft_certificate_rotations_total */
  readonly rotations: Counter;
  /** weft_inbound_requests_by_caller_total{caller}: `namespace/service` from the peer certificate, `unidentified`, or `expired` (refused: its certificate expired on an open connection). */
  readonly callers: Counter<'caller'>;
  private readonly callerChildren = new Map<string, { inc(): void }>();

  constructor(registry: Registry) {
    this.handshakes = new Counter({ name: 'weft_tls_handshakes_total', help: 'Full TLS handshakes by direction and result (ok or the refusal code).', labelNames: ['direction', 'result'] as const, registers: [registry] });
    this.expiry = new Gauge({ name: 'weft_certificate_expiration_timestamp_seconds', help: 'When the workload certificate in force expires.', registers: [registry] });
    this.rotations = new Counter({ name: 'weft_certificate_rotations_total', help: 'Workload certificates taken after the first.', registers: [registry] });
    this.callers = new Counter({ name: 'weft_inbound_requests_by_caller_total', help: 'Inbound requests by verified caller (from the peer certificate only).', labelNames: ['caller'] as const, registers: [registry] });
  }

  /** caller counts one inbound request of `caller` (`namespace/service`, `unidentified` or `expired`). */
  caller(caller: string): void {
    let c = this.callerChildren.get(caller);
    if (!c) {
      c = this.callers.labels({ caller });
      this.callerChildren.set(caller, c);
    }
    c.inc();
  }
}
