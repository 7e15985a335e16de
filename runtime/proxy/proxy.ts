import type { Server } from 'node:http';
import type { AddressInfo, Server as NetServer } from 'node:net';
import { identityOf } from '../identity.js';
import { jsonLogger, type Logger } from '../log.js';
import type { RandomSource } from '../router/index.js';
import type { TrustKey } from '../bundle/verify.js';
import { StartupError, WeftError } from '../errors.js';
import { DEFAULT_PROXY_SETTINGS } from '../../schemas/proxy-settings.js';
import type { BundleSource, LoadVerdict } from '../sources/source.js';
import { configDocument, createAdmin, type AdminInfo } from './admin.js';
import { dashboardHostCheck, isLoopbackAddress } from '../host-check.js';
import { endpointKey } from '../policy/endpoint-key.js';
import { DEFAULT_TRUSTED_PEERS, HeaderIdentityProvider } from './caller-identity.js';
import type { ProxyContext, ProxySettings } from './context.js';
import { createListener, type Listener } from './listener.js';
import { ProxyMetrics } from './metrics.js';
import { compose } from './pipeline.js';
import { PoolSet } from './pools.js';
import { IdleCompaction } from './idle-compaction.js';
import { Reloader } from './reloader.js';
import { inboundSteps, outboundSteps, terminal } from './steps/index.js';
import { PolicyRuntime } from '../policy/policy-runtime.js';
import type { Bundle, BundleSpec } from '../../schemas/bundle.js';
import { reachOf } from '../../schemas/reachable.js';
import type { CertificateSource } from './mtls/certificate-source.js';
import { MeshTls } from './mtls/mesh-tls.js';
import { MtlsMetrics } from './mtls/mtls-metrics.js';
import { EndpointTable } from '../discovery/endpoint-table.js';
import { HealthProbe } from '../discovery/health-probe.js';
import { Registration } from '../discovery/registration.js';
import { EndpointCacheWriter, readEndpointCache } from '../discovery/endpoint-cache.js';
import type { EndpointSource } from '../sources/endpoint-source.js';
import type { Dispatcher } from 'undici';
import { PENDING_REQUEST_BODIES } from './body.js';

/**
 * inboundMtlsMode is the mode of this proxy's inbound listener under `bundle`: its Service's
 * override, else MeshConfig's, else STRICT (the bundle writes only PERMISSIVE).
 */
export function inboundMtlsMode(bundle: Pick<Bundle, 'spec'>, self: { readonly service: string; readonly namespace: string }): 'STRICT' | 'PERMISSIVE' {
  const own = bundle.spec.services.find((s) => s.name === self.service && s.namespace === self.namespace);
  if (own) return own.mtls?.mode ?? 'STRICT';
  return bundle.spec.mesh.mtls?.mode ?? 'STRICT';
}

/**
 * RegisterOptions make the proxy register its instance with the controller (docs/discovery.md):
 * needs an inbound listener.
 */
export interface RegisterOptions {
  /** The controller's base URL, and how requests reach it (its mTLS Agent). */
  readonly url: string;
  readonly dispatcher?: () => { dispatcher?: Dispatcher };
  /** Address callers use; null: the inbound listener's bound address (which must not be a wildcard). */
  readonly advertise: { address: string; port: number } | null;
  readonly labels: Record<string, string>;
  /** Path probed on the app (`--app-health`); null: the app counts as ready. */
  readonly appHealth: string | null;
  /** Probe period (default 1 s). */
  readonly probePeriodMs?: number;
  /** The proxy id the controller knows it by. */
  readonly instance: string;
}

/** ProxyOptions configure one sidecar (bin/commands/proxy.ts maps flags onto them). */
export interface ProxyOptions {
  readonly settings: ProxySettings;
  /** host:port addresses; null: listener off. Port 0 picks a free port. */
  readonly outbound: { host: string; port: number } | null;
  readonly inbound: { host: string; port: number } | null;
  readonly admin: { host: string; port: number } | null;
  readonly source: BundleSource;
  readonly trustKey: TrustKey | null;
  readonly trustPeers?: readonly string[];
  readonly cacheDir: string | null;
  readonly random?: RandomSource;
  /** Process events (bundle verdicts) are logged here (default: JSON lines on stderr); access-log lines go to writeLog. */
  readonly logger?: Logger;
  readonly writeLog?: (line: string) => void;
  /**
   * Where the workload certificate comes from (controller-issued SVID or files). null or absent:
   * no identity (--insecure): inbound is plaintext and trusts `weft-source` from --trust-peers,
   * meshed endpoints are reached in plaintext.
   */
  readonly certificates?: CertificateSource | null;
  /** Where backends' registered instances come from (discovery on); absent: git's endpoints only. */
  readonly endpointSource?: EndpointSource;
  /** Register this instance (needs `inbound` and `endpointSource`'s controller). */
  readonly register?: RegisterOptions;
}

/** RunningProxy is a started proxy: its bound addresses and a way to stop it. */
export interface RunningProxy {
  readonly addresses: { outbound: string | null; inbound: string | null; admin: string | null };
  readonly reloader: Reloader;
  readonly context: ProxyContext;
  /** The instance's registration, when registering. */
  readonly registration: Registration | null;
  /** config is the admin `/config` document (also without an admin listener: a worker's, for its primary). */
  config(): Record<string, unknown>;
  close(): Promise<void>;
  /**
   * shutdown is SIGTERM: deregister first, keep serving for `drainDelayMs` so callers learn the
   * instance is gone, then stop accepting, let in-flight requests finish, and close.
   */
  shutdown(drainDelayMs: number): Promise<void>;
}

/** listen binds one listener; a bind failure is a StartupError naming the listener and the address. */
function listen(server: Server | NetServer, addr: { host: string; port: number }, name: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      const hint = err.code === 'EADDRINUSE' ? ' (another process is using it; give another address with --' + name + ')' : '';
      reject(new StartupError(`${name} listener cannot listen on ${addr.host.includes(':') ? `[${addr.host}]` : addr.host}:${addr.port}: ${err.code ?? err.message}${hint}`));
    };
    server.once('error', onError);
    server.listen(addr.port, addr.host, () => {
      server.off('error', onError);
      const a = server.address() as AddressInfo;
      resolve(a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`);
    });
  });
}

/**
 * startProxy wires a sidecar: metrics, pools, reloader, the pipelines (composed and checked once
 * here), listeners and the bundle source. The source is started first; when it has nothing, the
 * cached last good bundle is used. Listeners serve 503 until a bundle is active.
 */
export async function startProxy(opts: ProxyOptions): Promise<RunningProxy> {
  const logger = opts.logger ?? jsonLogger();
  const metrics = new ProxyMetrics();
  // Identity first: the proxy is not ready, and does not fetch bundles, before it has its certificate.
  const certificates = opts.certificates ?? null;
  let mtls: MeshTls | null = null;
  if (certificates) {
    await certificates.start();
    mtls = new MeshTls(certificates, new MtlsMetrics(metrics.registry));
    const st = certificates.status();
    logger.log('info', 'identity', { spiffeId: st.spiffeId, notAfter: st.notAfter, source: st.source });
  } else {
    logger.log('warn', 'INSECURE: no workload identity (--insecure); inbound callers are not authenticated and identity policies are advisory', {});
  }
  const pools = new PoolSet({}, mtls);
  mtls?.onRotate(() => {
    const n = pools.recycleMeshed();
    const st = certificates?.status();
    logger.log('info', 'certificate rotated', { spiffeId: st?.spiffeId, serialNumber: st?.serialNumber, notAfter: st?.notAfter, poolsRecycled: n });
  });
  const appOrigin = opts.settings.app ? `http://${endpointKey(opts.settings.app)}` : null;
  const endpoints = new EndpointTable(opts.endpointSource !== undefined);
  const discoveredOrigins = (): string[] => {
    const out: string[] = [];
    for (const s of reloader.current()?.bundle.spec.services ?? []) for (const e of endpoints.view(s).endpoints) out.push(pools.keyFor(e, s));
    return out;
  };
  let registration: Registration | null = null;
  let probe: HealthProbe | null = null;
  let endpointCache: EndpointCacheWriter | null = null;
  /** Set by shutdown(): /ready says not ready while the instance drains. */
  let draining = false;
  let wasReady = false;
  /**
   * An instance is ready for callers once its bundle is active, its app passes the health probe,
   * and (discovery on) it has heard an endpoint set for every Service its bundle names: before
   * that its app's own outbound calls would get 503 WEFT_ENDPOINTS_UNKNOWN (Envoy, likewise, is
   * not ready before its first EDS answer).
   */
  const ready = (): boolean =>
    reloader.current() !== null && (probe === null || probe.ready) && (opts.endpointSource === undefined || endpointsKnown());
  const endpointsKnown = (): boolean => followedServices().every((id) => endpoints.versionOf(id) !== undefined);
  /**
   * The Services whose endpoint sets this proxy follows (and waits for before it is ready): those
   * it reaches in the active bundle (schemas/reachable.ts: its egress scope and their backends),
   * which is every Service of a slice. The controller refuses the sets of any other Service.
   */
  const reachCache = new WeakMap<BundleSpec, readonly string[]>();
  const followedServices = (): readonly string[] => {
    const spec = reloader.current()?.bundle.spec;
    if (!spec) return [];
    let ids = reachCache.get(spec);
    if (!ids) {
      const self = opts.settings.service ? `${opts.settings.namespace}/${opts.settings.service}` : null;
      ids = self ? [...reachOf(spec, self).ids] : spec.services.map((s) => s.id);
      reachCache.set(spec, ids);
    }
    return ids;
  };
  const reloader = new Reloader({
    verify: { trustKey: opts.trustKey },
    metrics,
    pools,
    pinnedOrigins: appOrigin ? [appOrigin] : [],
    keepOrigins: discoveredOrigins,
    cacheDir: opts.cacheDir,
    onVerdict: (v: LoadVerdict, origin: string) => {
      if (v.state === 'unchanged') return;
      if (v.state === 'active') {
        logger.log('info', 'bundle active', { origin, digest: v.digest });
        applyLimits();
        opts.endpointSource?.servicesChanged();
        if (registration && ready() !== wasReady) registration.readinessChanged();
      }
      else logger.log('warn', 'bundle rejected', { origin, digest: v.digest, code: v.code, reason: v.reason });
    },
    onProblem: (p, origin) => (p ? logger.log('warn', 'bundle source problem', { origin, code: p.code, reason: p.reason }) : logger.log('info', 'bundle source ok', { origin })),
  });
  reloader.sourceDescription = opts.source.description;
  const random = opts.random ?? Math.random;
  const policies = new PolicyRuntime({ registry: metrics.registry, random, activeRouter: () => reloader.current()?.router ?? null });
  const ctx: ProxyContext = {
    settings: opts.settings,
    metrics,
    pools,
    // Under mTLS no header is ever an identity: the caller-identity step reads the peer certificate.
    identity: mtls ? { identify: () => null } : new HeaderIdentityProvider(opts.trustPeers ?? DEFAULT_TRUSTED_PEERS),
    mtls,
    selfIdentity: mtls
      ? identityOf(opts.settings.service, opts.settings.namespace, 'mtls', mtls.trustDomain)
      : identityOf(opts.settings.service, opts.settings.namespace, 'header'),
    random,
    active: () => reloader.current(),
    writeLog: opts.writeLog ?? ((l: string) => void process.stdout.write(l)),
    self: Object.freeze({ service: opts.settings.service, namespace: opts.settings.namespace }),
    policies,
    endpoints,
    mirrorsInFlight: 0,
  };
  // An instance leaving takes its pool with it (after in-flight requests finish); pools of
  // endpoints that stay are untouched.
  endpoints.subscribe(() => {
    if (registration && ready() !== wasReady) registration.readinessChanged();
    const keep = new Set<string>([...(appOrigin ? [appOrigin] : []), ...discoveredOrigins()]);
    for (const s of reloader.current()?.bundle.spec.services ?? []) for (const e of s.endpoints) keep.add(pools.keyFor(e, s));
    pools.retain(keep);
  });
  const out = outboundSteps(ctx);
  const inb = inboundSteps(ctx);
  const last = terminal(ctx);
  const outbound = opts.outbound ? createListener(ctx, 'outbound', compose(out, last, 'outbound', { full: opts.settings.fullPipeline === true })) : null;
  const inbound = opts.inbound ? createListener(ctx, 'inbound', compose(inb, last, 'inbound', { full: opts.settings.fullPipeline === true })) : null;
  if (inbound && mtls) {
    inbound.dispatcher.tls = mtls.tlsBranch();
    // STRICT until a bundle says otherwise: a plaintext caller must never slip in before the first bundle.
    inbound.dispatcher.acceptPlaintext = false;
  }
  const applyMode = (): void => {
    const a = reloader.current();
    if (inbound && mtls && a) inbound.dispatcher.acceptPlaintext = inboundMtlsMode(a.bundle, opts.settings) === 'PERMISSIVE';
  };
  const stopModeWatch = reloader.onActivate(applyMode);
  // Memory taken while a bundle was loaded goes back to the system once the proxy is quiet.
  const compaction = new IdleCompaction({ logger });
  const stopCompactionWatch = reloader.onActivate(() => compaction.schedule());
  const addresses = { outbound: null as string | null, inbound: null as string | null, admin: null as string | null };
  const adminInfo: AdminInfo = {
    service: opts.settings.service,
    namespace: opts.settings.namespace,
    listeners: () => ({ ...addresses }),
    steps: { outbound: out.map((s) => s.name), inbound: inb.map((s) => s.name) },
    pools: () => pools.origins(),
    draining: () => draining,
    hostCheck: opts.admin && isLoopbackAddress(opts.admin.host) ? dashboardHostCheck() : undefined,
    extra: {
      policies: () => policies.snapshot(),
      identity: () =>
        certificates && mtls
          ? { mode: 'mtls', inbound: inbound ? (inbound.dispatcher.acceptPlaintext ? 'PERMISSIVE' : 'STRICT') : null, ...certificates.status() }
          : { mode: 'insecure', inbound: inbound ? 'plaintext' : null },
      endpoints: () => endpoints.snapshot(),
      registration: () => (registration ? { registered: registration.registered, ready: ready() } : null),
      // Request bodies being read before routing, and the count past which new HTTP/2 streams with a body are refused (PendingBodies).
      pendingRequestBodies: () => ({ reading: PENDING_REQUEST_BODIES.reading, limit: PENDING_REQUEST_BODIES.limit }),
    },
  };
  const admin = opts.admin ? createAdmin(metrics, reloader, adminInfo) : null;

  const listeners = [outbound, inbound].filter((l): l is Listener => l !== null);
  /** applyLimits puts the active bundle's MeshConfig spec.proxy limits on the listeners and pools (every activation). */
  function applyLimits(): void {
    const limits = reloader.current()?.limits ?? DEFAULT_PROXY_SETTINGS;
    for (const l of listeners) l.apply(limits);
    pools.setMaxResponseHeadersBytes(limits.maxResponseHeadersBytes);
  }
  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => (closing ??= closeAll());
  const closeAll = async (): Promise<void> => {
    stopModeWatch();
    stopCompactionWatch();
    compaction.stop();
    probe?.stop();
    await registration?.deregister();
    await opts.endpointSource?.stop();
    await endpointCache?.stop();
    await opts.source.stop();
    await certificates?.stop();
    await Promise.all([
      ...listeners.map((l) => (l.dispatcher.server.listening ? l.close() : Promise.resolve())),
      ...(admin && admin.listening
        ? [
            new Promise<void>((resolve) => {
              admin.close(() => resolve());
              admin.closeIdleConnections();
            }),
          ]
        : []),
    ]);
    await pools.close();
  };

  // Any start-up failure (a listener that cannot bind, a source that cannot start) closes
  // everything already opened, so the process can exit instead of living half-started with an
  // admin listener that says ready.
  try {
    await opts.source.start(reloader);
    await reloader.idle();
    if (!reloader.current()) await reloader.loadCache();
    applyMode();
    if (admin && opts.admin) addresses.admin = await listen(admin, opts.admin, 'admin');
    if (outbound && opts.outbound) addresses.outbound = await listen(outbound.dispatcher.server, opts.outbound, 'outbound');
    if (inbound && opts.inbound) addresses.inbound = await listen(inbound.dispatcher.server, opts.inbound, 'inbound');
    if (opts.endpointSource && opts.cacheDir) {
      // The last known sets first (a restart while the controller is unreachable still routes
      // to the last known instances); the controller's first answer replaces them.
      const cached = await readEndpointCache(opts.cacheDir, logger);
      if (cached.length > 0) {
        endpoints.apply(cached);
        logger.log('info', 'endpoint sets restored from the cache', { services: cached.length, endpoints: cached.reduce((n, s) => n + s.endpoints.length, 0) });
      }
      endpointCache = new EndpointCacheWriter(endpoints, opts.cacheDir, logger);
    }
    opts.endpointSource?.start(endpoints, followedServices);
    if (opts.register && inbound && opts.settings.app) {
      const r = opts.register;
      const advertise = r.advertise ?? advertisedInbound(addresses.inbound);
      if (r.appHealth !== null) {
        probe = new HealthProbe({ url: new URL(r.appHealth, `http://${endpointKey(opts.settings.app)}`).href, ...(r.probePeriodMs ? { periodMs: r.probePeriodMs } : {}) }, (ok) => {
          logger.log(ok ? 'info' : 'warn', 'app health', { ready: ok });
          registration?.readinessChanged();
        });
        await probe.start();
      }
      registration = new Registration({
        url: r.url,
        ...(r.dispatcher ? { dispatcher: r.dispatcher } : {}),
        instance: r.instance,
        advertise,
        labels: r.labels,
        service: opts.settings.service,
        namespace: opts.settings.namespace,
        ready: () => (wasReady = ready()),
        logger,
      });
      await registration.start();
    }
  } catch (err) {
    await close().catch(() => undefined);
    throw err instanceof WeftError ? err : new StartupError(`cannot start: ${(err as Error).message ?? String(err)}`);
  }

  return {
    addresses,
    reloader,
    context: ctx,
    registration,
    config: () => configDocument(reloader, adminInfo),
    close,
    async shutdown(drainDelayMs: number) {
      draining = true;
      probe?.stop();
      await registration?.deregister();
      if (drainDelayMs > 0) await new Promise((r) => setTimeout(r, drainDelayMs));
      await close();
    },
  };
}

/** advertisedInbound is the inbound listener's bound address as callers would dial it. */
function advertisedInbound(bound: string | null): { address: string; port: number } {
  const m = bound ? /^\[?([^\]]*)\]?:(\d+)$/.exec(bound) : null;
  if (!m) throw new StartupError('no inbound address to advertise');
  return { address: m[1]!, port: Number(m[2]) };
}
