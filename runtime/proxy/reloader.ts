import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Bundle } from '../../schemas/bundle.js';
import { proxyLimits } from '../../schemas/proxy-settings.js';
import { writeFileAtomic } from '../atomic-write.js';
import { MAX_BUNDLE_BYTES, verifyBundle, type VerifyOptions } from '../bundle/verify.js';
import { readFileBounded } from '../bounded-read.js';
import { BundleRejectedError } from '../errors.js';
import { buildRouter } from '../router/index.js';
import type { BundleSink, LoadVerdict, SourceProblem } from '../sources/source.js';
import type { ActiveBundle, KeptBundle } from './context.js';
import type { ProxyMetrics } from './metrics.js';
import type { PoolSet } from './pools.js';

/** Rejection is the last refused bundle and why (shown in /config). */
export interface Rejection {
  readonly at: Date;
  readonly digest: string | null;
  readonly code: string;
  readonly reason: string;
}

/** ReloaderOptions wire the reloader to the proxy. */
export interface ReloaderOptions {
  readonly verify: VerifyOptions;
  readonly metrics: ProxyMetrics;
  readonly pools: PoolSet;
  /** Origins that must keep their pool whatever the bundle says (the local app). */
  readonly pinnedOrigins: readonly string[];
  /** Origins outside the bundle whose pools stay (discovered endpoints); read at each swap. */
  readonly keepOrigins?: () => Iterable<string>;
  /** Where the last good bundle is kept; null: not kept. */
  readonly cacheDir: string | null;
  /** Called after each verdict (logging). */
  readonly onVerdict?: (v: LoadVerdict, origin: string) => void;
  /** Called when the source's problem changes (a new code or reason, or recovery: null). */
  readonly onProblem?: (p: SourceProblem | null, origin: string) => void;
}

/** SourceProblemState is the source's current problem and since when (shown in /config). */
export interface SourceProblemState extends SourceProblem {
  readonly since: Date;
}

/**
 * Reloader is the proxy's BundleSink. Offers are serialised (one at a time, in order). A
 * candidate is verified and built into a frozen router off the request path, then swapped in
 * with one assignment (`current`): requests already running keep the ActiveBundle they read at
 * arrival. The same digest is a no-op; a rejected bundle changes nothing and is recorded. After a
 * swap, pools of endpoints that disappeared are drained and closed, and the bundle is written to
 * the cache directory (runtime/atomic-write.ts: file and directory fsynced) so a restart can begin from it.
 *
 * No rollback: a signed bundle issued (signature.issuedAt) before the newest one this proxy has
 * activated is refused (WEFT_BUNDLE_ROLLBACK), so yesterday's signed bundle replayed from a file
 * or a fake controller cannot undo today's policy. The newest issue time is kept in the cache
 * directory (`issued-at.json`) and read before the first offer, so a restart does not reset it.
 * A revert in git is a new bundle with a new issue time, and is accepted. Only with a trust key:
 * an unverified signature's issue time is no floor.
 */
export class Reloader implements BundleSink {
  private chain: Promise<unknown> = Promise.resolve();
  private active: ActiveBundle | null = null;
  private readonly activateListeners = new Set<(a: ActiveBundle) => void>();
  /** The last rejected candidate, or null. */
  lastRejection: Rejection | null = null;
  /** Where the active bundle came from (`file:...`, `cache:...`). */
  activeOrigin: string | null = null;
  /** Description of the configured source, for /config. */
  sourceDescription = '';
  /** Why the source has nothing to offer right now (file missing...), or null. */
  sourceProblem: SourceProblemState | null = null;

  /** The newest issue time activated (ms since epoch), or null; see the class comment. */
  private issuedFloor: number | null = null;
  private readonly floorRead: Promise<void>;

  constructor(private readonly opts: ReloaderOptions) {
    this.floorRead = this.readFloor();
  }

  /** floorPath is where the newest activated issue time is kept, or null. */
  get floorPath(): string | null {
    return this.opts.cacheDir ? path.join(this.opts.cacheDir, 'issued-at.json') : null;
  }

  /** verifiesSignatures: a trust key is set, so an active bundle's signature was checked (and required). */
  get verifiesSignatures(): boolean {
    return this.opts.verify.trustKey !== null;
  }

  /** issuedAtFloor is the newest issue time activated (ISO 8601), or null: older signed bundles are refused. */
  get issuedAtFloor(): string | null {
    return this.issuedFloor === null ? null : new Date(this.issuedFloor).toISOString();
  }

  private async readFloor(): Promise<void> {
    const p = this.floorPath;
    if (!p) return;
    try {
      const v = JSON.parse((await readFileBounded(p, 4096)).toString('utf8')) as { issuedAt?: unknown }; // a timestamp: bounded like every read
      const t = typeof v.issuedAt === 'string' ? Date.parse(v.issuedAt) : NaN;
      if (Number.isFinite(t)) this.issuedFloor = t;
    } catch {
      // No floor yet (first start, or no signed bundle ever activated).
    }
  }

  /**
   * onActivate calls `listener` right after each swap (listener settings that follow the bundle,
   * e.g. the inbound mTLS mode); returns a function that removes it. Listeners must not throw.
   */
  onActivate(listener: (a: ActiveBundle) => void): () => void {
    this.activateListeners.add(listener);
    return () => this.activateListeners.delete(listener);
  }

  /** current is the active bundle, or null before the first; read once per request. */
  current(): ActiveBundle | null {
    return this.active;
  }

  offer(text: string): Promise<LoadVerdict> {
    return this.offerFrom(text, this.sourceDescription);
  }

  /** offerFrom is `offer` with the origin recorded for /config. */
  offerFrom(text: string, origin: string): Promise<LoadVerdict> {
    const p = this.chain.then(() => this.load(text, origin));
    this.chain = p.catch(() => {});
    return p;
  }

  /** problem records the source's problem; a change (not a repeat) is reported through onProblem. */
  problem(p: SourceProblem | null): void {
    const cur = this.sourceProblem;
    if (p === null) {
      if (cur === null) return;
      this.sourceProblem = null;
    } else {
      if (cur && cur.code === p.code && cur.reason === p.reason) return;
      this.sourceProblem = { code: p.code, reason: p.reason, since: new Date() };
    }
    this.opts.onProblem?.(p, this.sourceDescription);
  }

  /** cachePath is where the last good bundle is kept, or null. */
  get cachePath(): string | null {
    return this.opts.cacheDir ? path.join(this.opts.cacheDir, 'bundle.json') : null;
  }

  /**
   * loadCache offers the cached bundle; null when there is none. The size is checked before the
   * file is read (a cache file grown or replaced past the limit is refused, not read whole).
   */
  async loadCache(): Promise<LoadVerdict | null> {
    const p = this.cachePath;
    if (!p) return null;
    let text: string;
    try {
      text = (await readFileBounded(p, this.opts.verify.maxBytes ?? MAX_BUNDLE_BYTES)).toString('utf8');
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'ENOENT') return null;
      const rejected: LoadVerdict = { state: 'rejected', digest: null, code: code === 'WEFT_READ_TOO_LARGE' ? 'WEFT_BUNDLE_TOO_LARGE' : 'WEFT_BUNDLE_UNREADABLE', reason: `cache file ${p} not loaded: ${code === 'WEFT_READ_TOO_LARGE' ? (err as Error).message : (code ?? 'error')}` };
      this.lastRejection = { at: new Date(), digest: null, code: rejected.code, reason: rejected.reason };
      return this.report(rejected, `cache:${p}`);
    }
    return this.offerFrom(text, `cache:${p}`);
  }

  private async load(text: string, origin: string): Promise<LoadVerdict> {
    await this.floorRead;
    const m = this.opts.metrics;
    let bundle: Bundle;
    let router: ActiveBundle['router'];
    let issuedAt: number | null;
    try {
      bundle = verifyBundle(text, this.opts.verify);
      if (this.active && this.active.bundle.digest === bundle.digest) {
        m.reloads.inc({ result: 'unchanged' });
        return this.report({ state: 'unchanged', digest: bundle.digest }, origin);
      }
      // Only a verified signature's issue time counts: without a trust key it is anyone's claim,
      // and a far-future one would refuse every later bundle (the floor persists in --cache-dir).
      issuedAt = bundle.signature && this.opts.verify.trustKey ? Date.parse(bundle.signature.issuedAt) : null;
      if (issuedAt !== null && this.issuedFloor !== null && issuedAt < this.issuedFloor) {
        throw new BundleRejectedError(
          'WEFT_BUNDLE_ROLLBACK',
          `bundle was issued at ${bundle.signature!.issuedAt}, before the active one (${new Date(this.issuedFloor).toISOString()}): an older signed bundle is never reinstated`,
          bundle.digest,
        );
      }
      try {
        router = buildRouter(bundle.spec, { adopt: true });
      } catch (err) {
        throw new BundleRejectedError('WEFT_BUNDLE_BUILD', `bundle cannot be built into a route table: ${(err as Error).message}`, bundle.digest);
      }
    } catch (err) {
      const e = err instanceof BundleRejectedError ? err : new BundleRejectedError('WEFT_BUNDLE_BUILD', (err as Error).message);
      this.lastRejection = { at: new Date(), digest: e.digest, code: e.code, reason: e.message };
      m.reloads.inc({ result: 'rejected' });
      m.rejections.inc({ code: e.code });
      return this.report({ state: 'rejected', digest: e.digest, code: e.code, reason: e.message }, origin);
    }
    // Keep the router's copy of the spec, not the parsed one (ActiveBundle, KeptBundle).
    const kept: KeptBundle = Object.freeze({ apiVersion: bundle.apiVersion, digest: bundle.digest, revision: bundle.revision, spec: router.spec, ...(bundle.signature ? { signature: bundle.signature } : {}) });
    const next: ActiveBundle = Object.freeze({ bundle: kept, router, loadedAt: new Date(), limits: proxyLimits(router.spec.mesh.proxy) });
    this.active = next; // the swap: one assignment
    for (const l of this.activateListeners) l(next);
    this.activeOrigin = origin;
    const keep = new Set<string>(this.opts.pinnedOrigins);
    for (const s of router.spec.services) for (const e of s.endpoints) keep.add(this.opts.pools.keyFor(e, s));
    for (const o of this.opts.keepOrigins?.() ?? []) keep.add(o);
    this.opts.pools.retain(keep);
    m.reloads.inc({ result: 'active' });
    m.bundleInfo.reset();
    m.bundleInfo.set({ digest: bundle.digest, revision: bundle.revision?.commit ?? '' }, 1);
    m.loadedAt.set(next.loadedAt.getTime() / 1000);
    if (issuedAt !== null && (this.issuedFloor === null || issuedAt > this.issuedFloor)) {
      this.issuedFloor = issuedAt;
      await this.persistFloor().catch(() => {});
    }
    if (!origin.startsWith('cache:')) await this.persist(text).catch(() => {});
    return this.report({ state: 'active', digest: bundle.digest }, origin);
  }

  private report(v: LoadVerdict, origin: string): LoadVerdict {
    this.opts.onVerdict?.(v, origin);
    return v;
  }

  private async persistFloor(): Promise<void> {
    const p = this.floorPath;
    if (!p || this.issuedFloor === null) return;
    await mkdir(path.dirname(p), { recursive: true });
    await writeFileAtomic(p, JSON.stringify({ issuedAt: new Date(this.issuedFloor).toISOString() }) + '\n');
  }

  private async persist(text: string): Promise<void> {
    const target = this.cachePath;
    if (!target) return;
    await mkdir(path.dirname(target), { recursive: true });
    await writeFileAtomic(target, text);
  }

  /** idle resolves when every queued offer has been handled. */
  idle(): Promise<void> {
    return this.chain.then(() => {});
  }
}
