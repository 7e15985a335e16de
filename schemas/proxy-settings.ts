import type { MeshProxySettings } from './bundle.js';

/** ProxyLimits are MeshProxySettings with every optional field filled in (what a proxy applies). */
export type ProxyLimits = Required<MeshProxySettings>;

/**
 * DEFAULT_PROXY_SETTINGS are the listener limits and path handling a proxy applies when the
 * bundle carries no `mesh.proxy` (MeshConfig says nothing about `spec.proxy`), and the values the
 * compiler fills in for fields a MeshConfig leaves out. One table, read by both sides, so the
 * compiler and the proxy cannot disagree about a default. docs/proxy.md lists them.
 *
 * - requestHeadersTimeout 10 s: the whole request head must arrive within it (slowloris);
 * - streamIdleTimeout 5 min, as Envoy's `stream_idle_timeout`: no bytes in either direction on a
 *   request's stream;
 * - requestTimeout 5 min, Envoy's `request_timeout` as its edge best practices set it: the whole
 *   request, body included, must have arrived (unless the response has started), so a client that
 *   trickles a body just fast enough never to be idle is still cut;
 * - maxConnections 10,000 per listener;
 * - maxRequestHeadersBytes 16 KiB (Node's default) and maxRequestHeadersCount 100 (Envoy's
 *   `max_headers_count`);
 * - maxResponseHeadersBytes 64 KiB from an upstream;
 * - pathNormalization: encoded slashes refused, `//` merged, `;` parameters kept (see
 *   docs/traffic-policies.md for the trade-off of each).
 */
export const DEFAULT_PROXY_SETTINGS: Readonly<ProxyLimits> = Object.freeze({
  maxConnections: 10_000,
  maxRequestHeadersBytes: 16 * 1024,
  maxRequestHeadersCount: 100,
  maxResponseHeadersBytes: 64 * 1024,
  pathNormalization: Object.freeze({ escapedSlashes: 'Reject' as const, mergeSlashes: true, stripPathParameters: false }),
  requestHeadersTimeoutMs: 10_000,
  streamIdleTimeoutMs: 300_000,
  requestTimeoutMs: 300_000,
});

/**
 * proxyLimits fills a bundle's `mesh.proxy` up to ProxyLimits: absent as a whole, or a field a
 * bundle from an older compiler does not carry (requestTimeoutMs), takes its default.
 */
export function proxyLimits(p: Readonly<MeshProxySettings> | undefined): Readonly<ProxyLimits> {
  if (!p) return DEFAULT_PROXY_SETTINGS;
  return Object.freeze({ ...DEFAULT_PROXY_SETTINGS, ...p });
}
