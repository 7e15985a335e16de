import path from 'node:path';
import { mkdir } from 'node:fs/promises';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { compile as realCompile } from '../../compiler/compile.js';
import type { CompileOptions, CompileResult, Diagnostic } from '../../compiler/types.js';
import { writeFileAtomic, writeFileAtomicChunks } from '../atomic-write.js';
import { ControllerError, messageOf } from './errors.js';
import { Fleet } from './fleet.js';
import { serviceId, SliceCache, type ServedBundle } from './slices.js';
import { bundleTextChunks, signingKey } from '../../compiler/emit.js';
import { CompileMemo } from '../../compiler/memo.js';
import { DEFAULT_FLEET_LIMITS, type FleetLimits } from './fleet.js';
import type { Issuer } from './issuer.js';
import { peerIdentity } from './peer-identity.js';
import type { CommitInfo } from './git.js';
import type { Bundle } from '../../schemas/bundle.js';
import type { IncomingMessage } from 'node:http';
import { Discovery } from '../discovery/discovery.js';
import type { Registrant } from '../discovery/registry.js';
import { LocalRepository } from './local-repository.js';
import { LongPollHub } from './long-poll.js';
import type { Logger } from '../log.js';
import { ControllerMetrics } from './metrics.js';
import { RemoteRepository } from './remote-repository.js';
import { isRemoteRepo, normaliseSubPath, type Repository } from './repository.js';
import type { StatusDocument } from './status-document.js';
import { CommitHistory } from './commit-history.js';
import { BundleStore, type StoredBundle } from './store.js';
import { TrafficStore } from './dashboard/traffic-store.js';

const gzipAsync = promisify(gzip);

/** ControllerOptions are `weft controller`'s flags, parsed. */
export interface ControllerOptions {
  /** Local path or URL. */
  repo: string;
  branch?: string;
  /** Sub-directory of the repository to compile. */
  path?: string;
  storeDir: string;
  outFile?: string;
  /** Fetch interval (remote) or safety-net re-read of the branch (local). */
  pollMs: number;
  /** PEM of an ed25519 private key: bundles are signed. */
  signKey?: string;
  webhookSecret?: string;
  logger: Logger;
  /** Quiet time after a change before compiling, so a burst compiles once (default 15 ms). */
  debounceMs?: number;
  /** false: every proxy gets the whole bundle, not its Service's slice (default true). */
  slices?: boolean;
  /** Longest `Prefer: wait` honoured, in ms (default 60 s). */
  maxWaitMs?: number;
  /** Registration lease and heartbeat period in ms (defaults 15 s / 5 s, docs/discovery.md). */
  leaseMs?: number;
  heartbeatMs?: number;
  /**
   * The Service named by a request's verified client certificate; null when it has none. Set
   * when the controller has identity on: registrations then never trust the request body.
   */
  peerIdentity?: (req: IncomingMessage) => Registrant | null;
  /**
   * The mesh CA, when the controller has one (--ca-dir): it issues certificates, its listener
   * speaks TLS and proxy-facing routes require a client certificate. Absent only with `insecure`.
   */
  issuer?: Issuer;
  /** Bounds of the proxy table (default DEFAULT_FLEET_LIMITS). */
  fleetLimits?: FleetLimits;
  /** Replaces the compiler (tests). */
  compile?: (options: CompileOptions) => Promise<CompileResult>;
}

/** Waiting is what a held long-poll request carries. */
export interface Waiting {
  proxy: string;
  /** As the proxy named it (`namespace/name`, a bare name, or '' for the whole bundle). */
  service: string;
  /** The digests the proxy said it has (If-None-Match): it is woken only for another one. */
  etags: readonly string[];
}

/** CompileRecord is the last compile, as /v1/status shows it. */
type CompileRecord = NonNullable<StatusDocument['lastCompile']>;

/**
 * Controller turns commits into served bundles. Invariants:
 * - compiles run one at a time, always of the newest commit known when they start, so a burst
 *   of commits compiles at most twice and an older commit never replaces a newer bundle
 *   (`generation` guards publication as well);
 * - a commit that fails keeps the previous bundle live; the failure is in lastCompile;
 * - a bundle is in the store before it is served, so a restart serves what proxies last saw;
 * - every held long-poll is woken once per new digest, and only then.
 */
export class Controller {
  readonly metrics = new ControllerMetrics();
  readonly hub = new LongPollHub<Waiting>();
  readonly fleet: Fleet;
  /** Registered instances and the endpoint stream (docs/discovery.md). */
  readonly discovery: Discovery;
  /** See ControllerOptions.peerIdentity; undefined in --insecure mode. */
  readonly peerIdentity: ((req: IncomingMessage) => Registrant | null) | undefined;
  /** The mesh CA (mTLS mode), or null in --insecure mode. */
  readonly issuer: Issuer | null;
  /** Push deliveries already acted on (X-GitHub-Delivery ids and body digests), oldest first; bounded. */
  readonly deliveries = new Set<string>();
  readonly repo: Repository;
  readonly store: BundleStore;
  readonly maxWaitMs: number;
  /** Traffic samples the demo's load generator posts for the dashboard (`/v1/traffic`). */
  readonly traffic = new TrafficStore();
  /** Parse, validate and lower results kept from commit to commit: compiles are incremental. */
  readonly memo = new CompileMemo();
  /** Per-Service slices of `current` (docs/scale.md): what GET /v1/bundle?service=S answers. */
  readonly slices: SliceCache;
  /** The bundle being served; null until the store or the first compile gives one. */
  current: StoredBundle | null = null;
  lastCompile: CompileRecord | null = null;
  /** What happened to each compiled commit, for the dashboard's markers (newest last). */
  readonly history = new CommitHistory();
  repoError: { code: string; message: string; at: string } | null = null;

  /** The controller's logger (routes log through it too). */
  readonly log: Logger;
  private readonly compileFn: (options: CompileOptions) => Promise<CompileResult>;
  private opened = false;
  private lastAttempted: string | null = null;
  private generation = 0;
  private publishedGeneration = 0;
  private firstTriggerAt: number | null = null;
  private debounce: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private poller: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly options: ControllerOptions) {
    this.log = options.logger;
    this.compileFn = options.compile ?? realCompile;
    this.maxWaitMs = options.maxWaitMs ?? 60_000;
    // compile() refuses a key that does not parse (WFT601), so no bundle is ever served unsigned by mistake.
    const key = options.signKey !== undefined ? signingKey(options.signKey) : null;
    this.slices = new SliceCache(typeof key === 'string' ? null : key);
    this.issuer = options.issuer ?? null;
    this.peerIdentity =
      options.peerIdentity ??
      (this.issuer
        ? (req: IncomingMessage): Registrant | null => {
            const w = peerIdentity(req)?.workload;
            return w ? { service: w.service, namespace: w.namespace } : null;
          }
        : undefined);
    this.discovery = new Discovery({
      ...(options.leaseMs !== undefined ? { leaseMs: options.leaseMs } : {}),
      ...(options.heartbeatMs !== undefined ? { heartbeatMs: options.heartbeatMs } : {}),
    });
    const sub = normaliseSubPath(options.path);
    this.store = new BundleStore(options.storeDir);
    this.repo = isRemoteRepo(options.repo)
      ? new RemoteRepository(options.repo, options.branch, sub, path.join(options.storeDir, 'repos'))
      : new LocalRepository(options.repo, options.branch, sub);
    this.fleet = new Fleet(this.maxWaitMs + 30_000, 10 * 60_000, (done) => {
      this.metrics.propagation.observe(done.seconds);
      this.log.log('info', 'propagated', { digest: done.digest, seconds: done.seconds, proxies: done.proxies });
    }, options.fleetLimits ?? DEFAULT_FLEET_LIMITS);
  }

  /**
   * loadStored serves the last stored bundle, if any and intact: call before listening, so a
   * restarted controller answers proxies at once, before the first compile finishes.
   */
  async loadStored(): Promise<void> {
    await this.store.init();
    const stored = await this.store.current();
    if (!stored) return;
    // A stored bundle means this controller ran before: its registrations were in memory and are
    // gone until every instance's next heartbeat, so sets are served as incomplete for one lease.
    this.discovery.warm();
    this.current = stored;
    this.metrics.setBundle(stored.digest, stored.commit?.commit ?? '');
    this.log.log('info', 'serving stored bundle', { digest: stored.digest, commit: stored.commit?.commit ?? null });
  }

  /**
   * start opens the repository, begins watching and polling, and compiles the branch head.
   * A local repository that cannot be opened is fatal (ControllerError WEFT_CTL_REPO); a remote
   * one is retried on every poll, serving the stored bundle meanwhile.
   */
  async start(): Promise<void> {
    try {
      await this.openRepo();
    } catch (err) {
      if (this.repo instanceof LocalRepository) throw err;
      this.noteRepoError(err);
    }
    this.poller = setInterval(() => this.trigger('poll'), this.options.pollMs);
    this.poller.unref();
    this.trigger('start');
  }

  private async openRepo(): Promise<void> {
    if (this.opened) return;
    await this.repo.open();
    this.opened = true;
    await this.repo.watch((why) => this.trigger(why));
    this.log.log('info', 'watching repository', { repository: this.repo.description, branch: this.repo.branch, path: this.repo.path });
  }

  /** trigger asks for a re-read of the branch after a short quiet time; calls during a compile coalesce. */
  trigger(why: string): void {
    if (this.closed) return;
    this.firstTriggerAt ??= Date.now();
    this.log.log('debug', 'trigger', { why });
    if (this.debounce) return;
    this.debounce = setTimeout(() => {
      this.debounce = null;
      void this.kick();
    }, this.options.debounceMs ?? 15);
  }

  /** webhookSecret is the shared secret push webhooks are signed with, if any. */
  get webhookSecret(): string | undefined {
    return this.options.webhookSecret;
  }

  /** idle resolves once no compile is running or scheduled (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.running || this.debounce) {
      if (this.running) await this.running;
      else await new Promise((r) => setTimeout(r, 5));
    }
  }

  private async kick(): Promise<void> {
    if (this.running) {
      this.again = true;
      return;
    }
    const loop = async (): Promise<void> => {
      do {
        this.again = false;
        await this.cycle().catch((err: unknown) => this.log.log('error', 'compile cycle failed', { error: messageOf(err) }));
      } while (this.again && !this.closed);
    };
    this.running = loop().finally(() => {
      this.running = null;
    });
    await this.running;
  }

  private async cycle(): Promise<void> {
    const detectedAt = this.firstTriggerAt ?? Date.now();
    this.firstTriggerAt = null;
    let commit: string;
    try {
      await this.openRepo();
      commit = await this.repo.refresh();
      this.repoError = null;
    } catch (err) {
      this.noteRepoError(err);
      return;
    }
    // An empty repository has no commit to compile yet; its first commit triggers a cycle.
    if (commit === '' || commit === this.lastAttempted) return;
    this.lastAttempted = commit;
    const generation = ++this.generation;
    // Commit metadata is read while the compiler runs: one git round-trip off the critical path.
    const infoP: Promise<CommitInfo> = this.repo.commitInfo(commit).catch(() => ({ commit, message: '', author: '', time: '' }));
    const startedAt = new Date();
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    let result: CompileResult;
    try {
      result = await this.compileFn({
        dir: this.repo.compileDir,
        rev: commit,
        memo: this.memo,
        // The controller's clock sets issuedAt: proxies refuse a bundle issued before their active one.
        ...(this.options.signKey ? { signKey: this.options.signKey, issuedAt: new Date().toISOString() } : {}),
      });
    } catch (err) {
      // compile() promises never to throw; if it does, the commit fails like a bad one.
      result = { bundle: null, bundleJson: null, diagnostics: [internalDiagnostic(err)], resources: [], timings: {} };
    }
    const seconds = (performance.now() - t0) / 1000;
    const info = await infoP;
    // A bundle always comes with its text (compile() makes it on first read of bundleJson).
    const ok = result.bundle !== null;
    const errors = result.diagnostics.filter((d) => d.severity === 'error').length;
    const warnings = result.diagnostics.filter((d) => d.severity === 'warning').length;
    this.metrics.compiles.inc({ result: ok ? 'ok' : 'failed' });
    this.metrics.lastCompileOk.set(ok ? 1 : 0);
    this.metrics.compileDuration.observe({ result: ok ? 'ok' : 'failed' }, seconds);
    const record: CompileRecord = {
      commit: info,
      ok,
      digest: result.bundle?.digest ?? null,
      startedAt: startedAt.toISOString(),
      durationMs: Math.round(seconds * 1000),
      errors,
      warnings,
      diagnostics: result.diagnostics,
    };
    if (!ok || !result.bundle) {
      this.lastCompile = record;
      this.history.rejected(info, this.current?.digest ?? null, startedAt);
      this.log.log('error', 'commit rejected: the previous bundle stays live', {
        commit,
        message: info.message,
        errors,
        diagnostics: result.diagnostics.filter((d) => d.severity === 'error').slice(0, 20).map(formatDiagnostic),
        serving: this.current?.digest ?? null,
      });
      return;
    }
    const cpu = process.cpuUsage(cpu0);
    // cpuMs is the controller process's CPU during the compile: on a shared machine the steadier figure.
    this.log.log('info', 'compiled', { commit, digest: result.bundle.digest, ms: Math.round(seconds * 1000), cpuMs: Math.round((cpu.user + cpu.system) / 1000), warnings, listed: this.memo.stats.listed, parsed: this.memo.stats.parsed, reused: this.memo.stats.reused, lowered: this.memo.stats.lowered });
    if (generation <= this.publishedGeneration) return;
    this.publishedGeneration = generation;
    this.history.published(info, result.bundle.digest, this.current?.digest ?? null, new Date());
    const made = result;
    await this.publish(storedBundle(result.bundle, () => made.bundleJson ?? '', info), detectedAt);
    // Set after publishing, so /v1/status never shows a good compile the controller does not serve yet.
    this.lastCompile = record;
  }

  private async publish(entry: StoredBundle, detectedAt: number): Promise<void> {
    const changed = this.current?.digest !== entry.digest;
    if (!changed && this.current) entry.publishedAt = this.current.publishedAt;
    // The whole bundle's gzip form is made on the thread pool and not waited for, and only when
    // some proxy takes whole bundles: proxies served slices never ask for it (and a client that
    // asks before it is ready gets it made then). 13 MB at 10,000 Services is a core's tenth of
    // a second that the proxies reloading their slices can use instead.
    if (changed && this.wholeBundleProxies()) void gzipAsync(entry.bytes).then((gz) => (entry.gzip ??= gz), () => undefined);
    // Marked, served, then stored: the mark (a few bytes, synced) is all a restart needs to never
    // serve proxies something older than what they have (store.ts), so writing and syncing the
    // whole bundle (13 MB at 10,000 Services) is off the commit-to-proxy path.
    let marked = true;
    try {
      await this.store.mark(entry.digest);
    } catch (err) {
      marked = false;
      this.log.log('error', 'bundle store write failed', { code: err instanceof ControllerError ? err.code : 'WEFT_CTL_STORE', error: messageOf(err) });
    }
    // Serving beats persisting: proxies still get the bundle; a restart serves an older one or none.
    this.serve(entry, detectedAt);
    try {
      if (marked) await this.store.put(entry);
    } catch (err) {
      this.log.log('error', 'bundle store write failed', { code: err instanceof ControllerError ? err.code : 'WEFT_CTL_STORE', error: messageOf(err) });
    }
    if (this.options.outFile) {
      const out = this.options.outFile;
      const chunks = entry.chunks;
      await mkdir(path.dirname(out), { recursive: true })
        .then(() => (chunks ? writeFileAtomicChunks(out, chunks(Buffer.allocUnsafe(1024 * 1024))) : writeFileAtomic(out, entry.bytes)))
        .catch((err: unknown) =>
        this.log.log('error', 'cannot write --out file', { file: this.options.outFile, error: messageOf(err) }),
      );
    }
  }

  /**
   * serve makes `entry` the bundle answered to proxies and, when its digest is new, wakes every
   * held long-poll once and starts timing propagation. It does not store it: publish() does
   * that first; tests and embedders may call serve() directly.
   */
  serve(entry: StoredBundle, detectedAt = Date.now()): void {
    const changed = this.current?.digest !== entry.digest;
    this.current = entry;
    this.slices.use(entry.bundle);
    this.metrics.setBundle(entry.digest, entry.commit?.commit ?? '');
    if (!changed) return;
    // Only proxies whose own slice changed are woken; the others keep waiting on a digest that
    // is still current, so they neither download nor reload anything.
    const woken = this.hub.wake((w) => {
      const served = this.servedFor(w.service);
      return served !== null && !w.etags.includes(served.digest);
    });
    this.fleet.published(entry.digest, detectedAt, (service) => this.servedFor(service)?.digest ?? null);
    this.log.log('info', 'bundle published', { digest: entry.digest, commit: entry.commit?.commit ?? null, woken, slices: this.slices.distinct });
  }

  /** wholeBundleProxies is true when some known proxy is served the whole bundle (--whole-bundles, or no Service named). */
  private wholeBundleProxies(): boolean {
    if (this.options.slices === false) return true;
    return this.fleet.serves('');
  }

  /**
   * servedFor is what GET /v1/bundle answers a proxy of `service` (`namespace/name` or a bare
   * name in namespace default): that Service's slice of the current bundle, or the whole bundle
   * when no Service is named. Null before the first bundle. The caller decides where `service`
   * comes from (the query string, or the client certificate's identity).
   */
  servedFor(service: string): ServedBundle | null {
    const cur = this.current;
    if (!cur) return null;
    const id = this.options.slices === false ? null : serviceId(service, null);
    if (id === null) return cur;
    this.slices.use(cur.bundle);
    try {
      return this.slices.sliceFor(id);
    } catch {
      // Only a bundle that did not come from the compiler (an embedder's, a test's) cannot be
      // cut; its proxies get it whole and judge it themselves.
      return cur;
    }
  }

  private noteRepoError(err: unknown): void {
    const code = err instanceof ControllerError ? err.code : 'WEFT_CTL_REPO';
    this.repoError = { code, message: messageOf(err), at: new Date().toISOString() };
    this.metrics.repoErrors.inc();
    this.log.log('error', 'repository error', { code, error: messageOf(err) });
  }

  /** status is the document of GET /v1/status. */
  status(now = Date.now()): StatusDocument {
    const cur = this.current;
    return {
      ready: cur !== null,
      repository: { url: this.repo.description, branch: this.repo.branch, path: this.repo.path, error: this.repoError },
      current: cur
        ? { digest: cur.digest, commit: cur.commit, signedBy: cur.bundle.signature?.keyId ?? null, publishedAt: cur.publishedAt }
        : null,
      lastCompile: this.lastCompile,
      history: this.history.list(),
      security: this.issuer
        ? { mode: 'mtls', trustDomain: this.issuer.trustDomain, caNotAfter: new Date(this.issuer.ca.cert.validTo).toISOString(), certTtlSeconds: Math.round(this.issuer.certTtlMs / 1000) }
        : { mode: 'insecure', trustDomain: null, caNotAfter: null, certTtlSeconds: null },
      discovery: this.discovery.status(),
      proxies: this.fleet.list(now).map((p) => ({
        proxy: p.proxy,
        service: p.service,
        digest: p.digest,
        state: p.state,
        error: p.error,
        lastContact: new Date(p.lastContact).toISOString(),
        behind: p.state === 'rejected' || (cur !== null && p.digest !== this.servedFor(p.service)?.digest),
        lost: this.fleet.isLost(p, now),
        identity: p.identity,
        certNotAfter: p.certNotAfter,
      })),
    };
  }

  /** refreshGauges updates the gauges that are computed on scrape. */
  refreshGauges(): void {
    const doc = this.status();
    this.metrics.connectedProxies.set(this.fleet.live());
    this.metrics.waitingRequests.set(this.hub.size + this.discovery.catalog.hub.size);
    let ready = 0;
    const regs = this.discovery.registry.registrations();
    for (const r of regs) if (r.endpoint.ready) ready++;
    this.metrics.instances.set({ ready: 'true' }, ready);
    this.metrics.instances.set({ ready: 'false' }, regs.length - ready);
    const counts = { active: 0, behind: 0, rejected: 0, lost: 0 };
    for (const p of doc.proxies) {
      if (p.lost) counts.lost++;
      else if (p.state === 'rejected') counts.rejected++;
      else if (p.behind) counts.behind++;
      else counts.active++;
    }
    for (const [state, n] of Object.entries(counts)) this.metrics.proxiesByState.set({ state }, n);
  }

  /** close stops watching and polling, answers held requests, and waits for a running compile. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = null;
    if (this.poller) clearInterval(this.poller);
    this.hub.close();
    this.discovery.close();
    await this.repo.close();
    if (this.running) await this.running;
    this.memo.close();
    await this.store.flushed();
  }
}

/**
 * storedBundle is a compiled bundle as the controller publishes it. Its text and bytes are made
 * on first use, not before: serving slices needs only the parsed bundle, so the 13 MB text and
 * copy (at 10,000 Services) are made after the proxies' slices are out, when the store writes it.
 */
function storedBundle(bundle: Bundle, json: () => string, commit: CommitInfo): StoredBundle {
  let bytes: Buffer | undefined;
  return {
    digest: bundle.digest,
    get bytes(): Buffer {
      return (bytes ??= Buffer.from(json(), 'utf8'));
    },
    bundle,
    commit,
    publishedAt: new Date().toISOString(),
    chunks: (buf) => bundleTextChunks(bundle, buf),
  };
}

function internalDiagnostic(err: unknown): Diagnostic {
  return {
    code: 'WFT901',
    severity: 'error',
    message: `internal error: ${messageOf(err)}`,
    file: null,
    line: 0,
    column: 0,
    endLine: 0,
    endColumn: 0,
    resource: null,
    hint: null,
  };
}

/** formatDiagnostic is `file:line:column code message`, the form logs and `weft status` print. */
export function formatDiagnostic(d: Diagnostic): string {
  const where = d.file ? `${d.file}:${d.line}:${d.column}` : '(repository)';
  return `${where} ${d.severity} ${d.code} ${d.message}`;
}
