import type { Bundle, Endpoint } from '../../schemas/bundle.js';
import type { ProxyLimits } from '../../schemas/proxy-settings.js';
import type { CallerIdentity, IdentityProvider } from '../identity.js';
import type { MeshTls } from './mtls/mesh-tls.js';
import type { RandomSource, Router } from '../router/index.js';
import type { PolicyRuntime } from '../policy/policy-runtime.js';
import type { EndpointTable } from '../discovery/endpoint-table.js';
import type { ProxyMetrics } from './metrics.js';
import type { PoolSet } from './pools.js';

/**
 * The state steps share: built once per proxy, handed to every step factory. Nothing here
 * changes per request except the active bundle (swapped whole by the reloader) and counters.
 */

/**
 * KeptBundle is what a proxy keeps of a verified bundle: everything but `sources` (file:line of
 * each id, for `weft explain`), with the router's interned copy of the spec (Router.spec), so
 * the parsed document is not kept alive beside the route table.
 */
export type KeptBundle = Omit<Bundle, 'sources'>;

/** ActiveBundle is a verified bundle and its frozen router; replaced whole on reload. */
export interface ActiveBundle {
  readonly bundle: KeptBundle;
  readonly router: Router;
  readonly loadedAt: Date;
  /** The bundle's `mesh.proxy` with defaults filled in (proxyLimits), or DEFAULT_PROXY_SETTINGS when it has none. */
  readonly limits: Readonly<ProxyLimits>;
}

/** PeerInfo is what the IdentityProvider sees of an inbound request. */
export interface PeerInfo {
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly remoteAddress: string;
}

/** ProxySettings are the proxy's fixed options (from flags). */
export interface ProxySettings {
  /** This instance's Service. */
  readonly service: string;
  readonly namespace: string;
  /** The local app for the inbound listener, or null when there is no inbound listener. */
  readonly app: Endpoint | null;
  readonly accessLog: boolean;
  /** Every step on every request (no per-route plans; compose's `full`): the general path. */
  readonly fullPipeline?: boolean;
  /** Request bodies up to this many bytes are kept (retries, mirrors). */
  readonly bodyBufferLimit: number;
  /** At most this many mirrored requests in flight; more are dropped and counted. */
  readonly mirrorConcurrency: number;
}

/** ProxyContext is handed to every step factory. */
export interface ProxyContext {
  readonly settings: ProxySettings;
  readonly metrics: ProxyMetrics;
  readonly pools: PoolSet;
  readonly identity: IdentityProvider<PeerInfo>;
  /** The TLS layer when the proxy has a workload identity; null with --insecure. */
  readonly mtls: MeshTls | null;
  /** This proxy's own identity, stamped on outbound requests. */
  readonly selfIdentity: CallerIdentity;
  /** Random numbers for weights, mirror percentages and jitter (injectable for tests). */
  readonly random: RandomSource;
  /** The active bundle, or null before the first one. Read once per request. */
  active(): ActiveBundle | null;
  /** Writes one access-log line. */
  writeLog(line: string): void;
  /** This proxy's Service and namespace (Exchange.self). */
  readonly self: { readonly service: string; readonly namespace: string };
  /** Traffic-policy state (balancers, pool limits, ejections, retry budgets, rate-limit buckets, policy metrics). */
  readonly policies: PolicyRuntime;
  /** Backends' endpoints now: git's plus discovered instances (docs/discovery.md), apart from the bundle. */
  readonly endpoints: EndpointTable;
  /** Mirrored requests in flight (bounded by settings.mirrorConcurrency). */
  mirrorsInFlight: number;
}
