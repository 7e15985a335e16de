import { createServer, type Server } from 'node:http';
import type { HostCheck } from '../host-check.js';
import type { ProxyMetrics } from './metrics.js';
import type { Reloader } from './reloader.js';

/** AdminInfo is what the admin listener reports besides the reloader's state. */
export interface AdminInfo {
  readonly service: string;
  readonly namespace: string;
  readonly listeners: () => Record<string, string | null>;
  readonly steps: { readonly outbound: readonly string[]; readonly inbound: readonly string[] };
  /** Upstream origins with a connection pool (pools of removed endpoints are closed on reload). */
  readonly pools: () => readonly string[];
  /** Extra sections for /config, by name (policy state such as outlier ejections). */
  readonly extra: Record<string, () => unknown>;
  /** True once the proxy drains (SIGTERM): /ready answers 503 from then on, as Envoy's does. */
  readonly draining?: () => boolean;
  /**
   * When set (the admin listener is on loopback), a request whose Host fails it gets 421 and
   * nothing else: a web page that rebinds its own name to 127.0.0.1 must not read /config or
   * /metrics (runtime/host-check.ts).
   */
  readonly hostCheck?: HostCheck;
}

/**
 * createAdmin serves `/metrics` (Prometheus text), `/ready` (200 once a bundle is active, else
 * 503; 503 `DRAINING` from SIGTERM on), `/healthz` (200 while the process runs) and `/config` (JSON: active digest, revision,
 * loaded time, where it came from, the last rejection and why, the source's current problem
 * (file missing, controller unreachable...), listeners, pipeline steps and the upstream origins
 * that have a connection pool). Nothing here quotes a rejected file's content.
 */
export function createAdmin(metrics: ProxyMetrics, reloader: Reloader, info: AdminInfo): Server {
  // Bounded like the traffic listeners: a slow or silent client cannot hold the admin port.
  return createServer({ headersTimeout: 10_000, requestTimeout: 30_000 }, (req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    const json = (status: number, v: unknown): void => {
      const body = JSON.stringify(v, null, 2) + '\n';
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
      res.end(body);
    };
    if (info.hostCheck && !info.hostCheck(req.headers.host)) return misdirected(req.headers.host, json);
    if (url === '/metrics') {
      metrics.registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': metrics.registry.contentType });
          res.end(text);
        },
        (err: unknown) => json(500, { error: String(err) }),
      );
      return;
    }
    if (url === '/healthz') return json(200, { ok: true });
    if (url === '/ready') {
      // Draining first: a load balancer or kubelet probing /ready must stop sending new work
      // while in-flight requests finish (Envoy answers 503 DRAINING here during drain).
      if (info.draining?.()) return json(503, { ready: false, state: 'DRAINING', reason: 'draining: the proxy is shutting down (SIGTERM)' });
      const a = reloader.current();
      const why = reloader.sourceProblem;
      return json(a ? 200 : 503, a ? { ready: true, digest: a.bundle.digest } : { ready: false, reason: why ? `no bundle is active yet: ${why.code}: ${why.reason}` : 'no bundle is active yet' });
    }
    if (url === '/config') return json(200, configDocument(reloader, info));
    json(404, { error: 'not found', endpoints: ['/metrics', '/ready', '/healthz', '/config'] });
  });
}

/**
 * misdirected answers a request whose Host does not name this machine (421, RFC 9110 §15.5.20),
 * on an admin listener bound to loopback.
 */
export function misdirected(host: string | undefined, json: (status: number, v: unknown) => void): void {
  json(421, { error: `misdirected: Host "${String(host).slice(0, 100)}" does not name this machine; the admin listener is on loopback and answers only IP addresses, localhost and the host name (DNS rebinding guard)` });
}

/**
 * configDocument is the `/config` JSON: active digest, revision, loaded time, where it came from,
 * the last rejection and why, the source's current problem, listeners, pipeline steps, pools and
 * the extra sections. With `--concurrency`, each worker answers it for the primary's `/config`.
 */
export function configDocument(reloader: Reloader, info: AdminInfo): Record<string, unknown> {
  const a = reloader.current();
  const extra: Record<string, unknown> = {};
  for (const [k, f] of Object.entries(info.extra)) extra[k] = f();
  return {
    service: info.service,
    namespace: info.namespace,
    source: reloader.sourceDescription,
    active: a
      ? { digest: a.bundle.digest, revision: a.bundle.revision, loadedAt: a.loadedAt.toISOString(), from: reloader.activeOrigin, services: a.bundle.spec.services.length, signed: a.bundle.signature !== undefined, signatureVerified: a.bundle.signature !== undefined && reloader.verifiesSignatures, issuedAt: a.bundle.signature?.issuedAt ?? null }
      : null,
    // Signed bundles issued before this are refused (WEFT_BUNDLE_ROLLBACK); kept across restarts.
    issuedAtFloor: reloader.issuedAtFloor,
    lastRejection: reloader.lastRejection ? { ...reloader.lastRejection, at: reloader.lastRejection.at.toISOString() } : null,
    sourceProblem: reloader.sourceProblem ? { code: reloader.sourceProblem.code, reason: reloader.sourceProblem.reason, since: reloader.sourceProblem.since.toISOString() } : null,
    listeners: info.listeners(),
    steps: info.steps,
    pools: info.pools(),
    ...extra,
  };
}
