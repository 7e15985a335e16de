/**
 * ControllerSource gets bundles from a Weft controller by long-polling `GET /v1/bundle`
 * (docs/protocol.md) and reports every verdict back with `POST /v1/status`.
 *
 * Invariants:
 * - one request in flight at a time; each 200 is offered to the sink exactly once, and the next
 *   poll presents that bundle's ETag, so a rejected bundle is not fetched again until the
 *   controller has a newer one;
 * - a body larger than `maxBundleBytes` is never buffered whole: it is cut off, reported
 *   `rejected` (WEFT_SRC_TOO_LARGE) and never offered;
 * - when the controller is unreachable the loop backs off exponentially with jitter, for ever:
 *   the proxy keeps serving what it has; after an outage the last verdict is reported again,
 *   so a restarted controller learns every proxy's digest at once.
 */
import os from 'node:os';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import type { Dispatcher } from 'undici';
import { request } from '../undici.js';
import type { BundleSink, BundleSource, LoadVerdict } from './source.js';
import { messageOf } from '../errors.js';
import { SourceError } from './errors.js';
import { silentLogger, type Logger } from '../log.js';
import { MAX_BUNDLE_BYTES } from '../bundle/verify.js';
import type { TlsClientIdentity } from '../identity/tls-client-identity.js';
import { controllerDispatcher } from './controller-tls.js';

/** ControllerSourceOptions configure one source; only `url` and `service` are required. */
export interface ControllerSourceOptions {
  /** Base URL of the controller, e.g. `http://127.0.0.1:15010`. */
  url: string;
  /** The Service this proxy serves (reported to the controller): `name` or `namespace/name`. */
  service: string;
  /** Stable id of this proxy (default `<service>@<hostname>:<pid>`). */
  proxyId?: string;
  /** Long-poll hold asked of the controller, in seconds (default 30). */
  waitSeconds?: number;
  /** Largest bundle accepted, in bytes (default MAX_BUNDLE_BYTES, the proxy's own limit: 64 MiB). */
  maxBundleBytes?: number;
  /** Backoff while the controller is unreachable: first delay and cap, in ms (defaults 200 and 5000). */
  backoffMs?: { initial: number; max: number };
  logger?: Logger;
  /** undici dispatcher (tests; default the global one). Ignored when `tls` is given. */
  dispatcher?: Dispatcher;
  /**
   * mTLS to a controller with --ca-dir (`https://` URL): the client certificate comes from
   * `identity` (the proxy's SVID manager), re-read on every request so a renewed certificate is
   * used by the next connection; the controller must prove `spiffe://<trustDomain>/ns/weft-system/sa/weft-controller`.
   */
  tls?: { identity: TlsClientIdentity; trustDomain: string };
}

const gunzipAsync = promisify(gunzip);

interface Report {
  digest: string | null;
  state: 'active' | 'rejected';
  error: string | null;
}

/** ControllerSource: the BundleSource of `weft proxy --controller URL` (invariants above). */
export class ControllerSource implements BundleSource {
  readonly description: string;
  /** proxyId is how the controller knows this proxy. */
  readonly proxyId: string;
  private readonly base: URL;
  private readonly waitSeconds: number;
  private readonly maxBytes: number;
  private readonly backoff: { initial: number; max: number };
  private readonly log: Logger;
  private etag: string | null = null;
  private lastReport: Report | null = null;
  private failures = 0;
  /** The last verdict has not reached the controller (or the controller may have restarted since). */
  private reportDue = false;
  private abort = new AbortController();
  private loop: Promise<void> | null = null;
  private stopped = false;
  private polled = false;
  private tlsAgent: { generation: number; agent: Dispatcher } | null = null;

  constructor(private readonly options: ControllerSourceOptions) {
    this.base = new URL(options.url.endsWith('/') ? options.url : `${options.url}/`);
    this.description = `controller:${this.base.origin}${this.base.pathname.replace(/\/$/, '')}`;
    this.proxyId = options.proxyId ?? `${options.service}@${os.hostname()}:${process.pid}`;
    this.waitSeconds = options.waitSeconds ?? 30;
    this.maxBytes = options.maxBundleBytes ?? MAX_BUNDLE_BYTES;
    this.backoff = options.backoffMs ?? { initial: 200, max: 5000 };
    this.log = options.logger ?? silentLogger;
  }

  /** start polls once (offering the bundle if one is available), then keeps polling in the background. */
  start(sink: BundleSink): Promise<void> {
    if (this.loop) return Promise.reject(new Error('ControllerSource already started'));
    let firstDone!: () => void;
    const first = new Promise<void>((resolve) => (firstDone = resolve));
    this.loop = this.run(sink, firstDone);
    return first;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    await this.loop?.catch(() => undefined);
    await this.tlsAgent?.agent.close().catch(() => undefined);
  }

  /**
   * dispatcher is what requests go through: with `tls`, an Agent built once per client
   * certificate generation (the old one is closed gracefully: requests on it finish); else the
   * configured or global dispatcher. Public: discovery (registration, the endpoint long-poll)
   * reaches the same controller through the same Agent.
   */
  dispatcher(): { dispatcher?: Dispatcher } {
    const tls = this.options.tls;
    if (!tls) return this.options.dispatcher ? { dispatcher: this.options.dispatcher } : {};
    const creds = tls.identity.current();
    if (!creds) throw new SourceError('WEFT_SRC_UNREACHABLE', 'no client certificate yet: the controller requires mTLS');
    if (this.tlsAgent?.generation !== creds.generation) {
      const old = this.tlsAgent?.agent;
      this.tlsAgent = { generation: creds.generation, agent: controllerDispatcher(creds.secureContext, tls.trustDomain) };
      void old?.close().catch(() => undefined);
    }
    return { dispatcher: this.tlsAgent.agent };
  }

  private async run(sink: BundleSink, firstDone: () => void): Promise<void> {
    while (!this.stopped) {
      let ok = false;
      try {
        await this.pollOnce(sink);
        ok = true;
      } catch (err) {
        if (this.stopped) break;
        this.failures++;
        this.reportDue = true;
        const code = err instanceof SourceError ? err.code : 'WEFT_SRC_UNREACHABLE';
        sink.problem?.({ code: code === 'WEFT_SRC_HTTP' ? 'WEFT_SRC_HTTP' : 'WEFT_SRC_UNREACHABLE', reason: `${this.base.origin}: ${messageOf(err)}` });
        this.log.log(this.failures === 1 ? 'warn' : 'debug', 'controller unreachable', { controller: this.base.origin, code, error: messageOf(err), failures: this.failures });
      }
      firstDone();
      if (ok) {
        this.failures = 0;
        continue;
      }
      await this.sleep(this.backoffDelay());
    }
    firstDone();
  }

  /** backoffDelay is exponential with equal jitter: half fixed, half random, capped. */
  private backoffDelay(): number {
    const exp = Math.min(this.backoff.max, this.backoff.initial * 2 ** Math.min(this.failures - 1, 20));
    return exp / 2 + Math.random() * (exp / 2);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      const signal = this.abort.signal;
      function done(): void {
        clearTimeout(t);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done, { once: true });
    });
  }

  private async pollOnce(sink: BundleSink): Promise<void> {
    // After an outage, say again where we stand before waiting: the controller may be new.
    if (this.reportDue && this.lastReport) await this.report(this.lastReport);
    const url = new URL('v1/bundle', this.base);
    url.searchParams.set('service', this.options.service);
    url.searchParams.set('proxy', this.proxyId);
    // The first poll does not wait, so start() returns promptly and the proxy can fall back on
    // its cache; later ones hold (without an ETag, until the controller's first bundle).
    const waiting = this.polled;
    this.polled = true;
    const headers: Record<string, string> = { 'accept-encoding': 'gzip', ...(waiting ? { prefer: `wait=${this.waitSeconds}` } : {}) };
    if (this.etag) headers['if-none-match'] = `"${this.etag}"`;
    const res = await request(url, {
      method: 'GET',
      headers,
      signal: this.abort.signal,
      headersTimeout: waiting ? (this.waitSeconds + 15) * 1000 : 5000,
      bodyTimeout: 60_000,
      ...this.dispatcher(),
    });
    if (res.statusCode === 304) {
      await res.body.dump();
      sink.problem?.(null);
      return;
    }
    if (res.statusCode !== 200) {
      await res.body.dump().catch(() => undefined);
      throw new SourceError('WEFT_SRC_HTTP', `GET ${url.pathname} answered ${res.statusCode}`);
    }
    const etagHeader = res.headers.etag;
    const etag = typeof etagHeader === 'string' ? etagHeader.replace(/^W\//, '').replace(/^"(.*)"$/, '$1') : null;
    const text = await this.readLimited(res);
    let verdict: LoadVerdict;
    if (text === null) {
      verdict = { state: 'rejected', digest: etag, code: 'WEFT_SRC_TOO_LARGE', reason: `bundle larger than ${this.maxBytes} bytes` };
      sink.problem?.({ code: 'WEFT_SRC_TOO_LARGE', reason: `${this.base.origin}: bundle larger than the ${this.maxBytes}-byte limit; not read` });
    } else {
      sink.problem?.(null);
      verdict = await sink.offer(text);
    }
    this.etag = etag ?? verdict.digest;
    const report: Report =
      verdict.state === 'rejected'
        ? { digest: verdict.digest ?? etag, state: 'rejected', error: `${verdict.code}: ${verdict.reason}` }
        : { digest: verdict.digest, state: 'active', error: null };
    if (verdict.state === 'rejected') this.log.log('warn', 'bundle rejected', { digest: report.digest, error: report.error });
    await this.report(report);
  }

  /** readLimited is the body as text, or null (the rest discarded) once it passes the limit. */
  private async readLimited(res: Dispatcher.ResponseData): Promise<string | null> {
    // Destroying the body makes undici emit "Request aborted"; it is expected here, not a crash.
    const cut = (): null => {
      res.body.on('error', () => undefined);
      res.body.destroy();
      return null;
    };
    const declared = Number(res.headers['content-length'] ?? 0);
    if (declared > this.maxBytes) return cut();
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body) {
      const buf = chunk as Buffer;
      size += buf.length;
      if (size > this.maxBytes) return cut();
      chunks.push(buf);
    }
    const raw = Buffer.concat(chunks);
    if (String(res.headers['content-encoding'] ?? '').toLowerCase() !== 'gzip') return raw.toString('utf8');
    // The limit applies to the bundle, not its compressed form: a small gzip bomb is refused
    // as soon as its output passes the limit.
    try {
      return (await gunzipAsync(raw, { maxOutputLength: this.maxBytes })).toString('utf8');
    } catch (err) {
      if (err instanceof RangeError || (err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') return null;
      throw new SourceError('WEFT_SRC_HTTP', `bad gzip body: ${messageOf(err)}`);
    }
  }

  /** report POSTs a verdict; failure is logged, and the verdict is re-sent after the next outage. */
  private async report(r: Report): Promise<void> {
    this.lastReport = r;
    this.reportDue = false;
    try {
      const res = await request(new URL('v1/status', this.base), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ proxy: this.proxyId, service: this.options.service, ...r }),
        signal: this.abort.signal,
        headersTimeout: 10_000,
        bodyTimeout: 10_000,
        ...this.dispatcher(),
      });
      await res.body.dump();
    } catch (err) {
      if (this.stopped) return;
      this.reportDue = true;
      this.log.log('warn', 'status report failed', { error: messageOf(err) });
    }
  }
}
