/**
 * EndpointSource is where a proxy learns its backends' registered instances, apart from the
 * bundle: the controller's endpoint long-poll today (ControllerEndpointSource); a Kubernetes
 * EndpointSlice watch could be another. Sets go into the proxy's EndpointTable, which load
 * balancers read in place.
 */
import type { Dispatcher } from 'undici';
import { request } from '../undici.js';
import { messageOf } from '../errors.js';
import { SourceError } from './errors.js';
import { silentLogger, type Logger } from '../log.js';
import type { EndpointTable } from '../discovery/endpoint-table.js';
import { isEndpointSet, MAX_SERVICES_PER_POLL, type EndpointsResponse } from '../discovery/protocol.js';

/** EndpointSource: see above. */
export interface EndpointSource {
  readonly description: string;
  /** watch starts following `services()` (re-read after `servicesChanged()`), feeding `table`. */
  start(table: EndpointTable, services: () => readonly string[]): void;
  /** servicesChanged says the Services to follow changed (a new bundle). */
  servicesChanged(): void;
  stop(): Promise<void>;
}

/** ControllerEndpointSourceOptions: the controller, and how requests reach it. */
export interface ControllerEndpointSourceOptions {
  url: string;
  /** Request options per request (the mTLS Agent of the current certificate); {} for the global dispatcher. */
  dispatcher?: () => { dispatcher?: Dispatcher };
  /** Long-poll hold asked of the controller, in seconds (default 30). */
  waitSeconds?: number;
  backoffMs?: { initial: number; max: number };
  logger?: Logger;
}

/**
 * ControllerEndpointSource long-polls `GET /v1/endpoints` for every Service the active bundle
 * names, up to MAX_SERVICES_PER_POLL per request (one loop per chunk), presenting the versions it
 * has; the controller answers the full set of each Service that changed. When the controller is
 * unreachable the loops back off and retry for ever while the table keeps the last known sets.
 * A new bundle restarts the loops over its Services (sets already known are kept).
 */
export class ControllerEndpointSource implements EndpointSource {
  readonly description: string;
  private readonly base: URL;
  private readonly waitSeconds: number;
  private readonly backoff: { initial: number; max: number };
  private readonly log: Logger;
  private table: EndpointTable | null = null;
  private services: () => readonly string[] = () => [];
  private round: { abort: AbortController; loops: Promise<void>[]; key: string } | null = null;
  private stopped = false;

  constructor(private readonly options: ControllerEndpointSourceOptions) {
    this.base = new URL(options.url.endsWith('/') ? options.url : `${options.url}/`);
    this.description = `controller:${this.base.origin}`;
    this.waitSeconds = options.waitSeconds ?? 30;
    this.backoff = options.backoffMs ?? { initial: 200, max: 5000 };
    this.log = options.logger ?? silentLogger;
  }

  start(table: EndpointTable, services: () => readonly string[]): void {
    this.table = table;
    this.services = services;
    this.servicesChanged();
  }

  servicesChanged(): void {
    if (this.stopped || !this.table) return;
    const ids = [...new Set(this.services())].sort();
    const key = ids.join(',');
    if (this.round?.key === key) return;
    this.round?.abort.abort();
    const abort = new AbortController();
    const loops: Promise<void>[] = [];
    for (let i = 0; i < ids.length; i += MAX_SERVICES_PER_POLL) loops.push(this.loop(ids.slice(i, i + MAX_SERVICES_PER_POLL), abort.signal));
    this.round = { abort, loops, key };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const r = this.round;
    r?.abort.abort();
    await Promise.allSettled(r?.loops ?? []);
  }

  private async loop(ids: string[], signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      try {
        await this.pollOnce(ids, signal);
        failures = 0;
      } catch (err) {
        if (signal.aborted) return;
        failures++;
        const code = err instanceof SourceError ? err.code : 'WEFT_SRC_UNREACHABLE';
        this.log.log(failures === 1 ? 'warn' : 'debug', 'endpoint poll failed; keeping the last known endpoints', { code, error: messageOf(err), failures });
        const exp = Math.min(this.backoff.max, this.backoff.initial * 2 ** Math.min(failures - 1, 20));
        await sleep(exp / 2 + Math.random() * (exp / 2), signal);
      }
    }
  }

  private async pollOnce(ids: string[], signal: AbortSignal): Promise<void> {
    const table = this.table!;
    const url = new URL('v1/endpoints', this.base);
    for (const id of ids) url.searchParams.append('service', id);
    const versions = ids.map((id) => table.versionOf(id)).filter((v): v is string => v !== undefined);
    // Wait only when every Service has a set: one that has none is answered at once.
    const waiting = versions.length === ids.length;
    const headers: Record<string, string> = {};
    if (versions.length > 0) headers['if-none-match'] = versions.map((v) => `"${v}"`).join(', ');
    if (waiting) headers.prefer = `wait=${this.waitSeconds}`;
    const res = await request(url, {
      method: 'GET',
      headers,
      signal,
      headersTimeout: waiting ? (this.waitSeconds + 15) * 1000 : 10_000,
      bodyTimeout: 30_000,
      ...(this.options.dispatcher?.() ?? {}),
    });
    if (res.statusCode === 304) {
      await res.body.dump();
      return;
    }
    if (res.statusCode !== 200) {
      await res.body.dump().catch(() => undefined);
      throw new SourceError('WEFT_SRC_HTTP', `GET ${url.pathname} answered ${res.statusCode}`);
    }
    const doc = (await res.body.json()) as EndpointsResponse;
    const sets = Array.isArray(doc?.sets) ? doc.sets.filter(isEndpointSet) : [];
    const changed = table.apply(sets);
    if (changed.length > 0) this.log.log('debug', 'endpoints', { services: changed });
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
