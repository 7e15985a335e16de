import { createRequire } from 'node:module';
import type * as Undici from 'undici';

/**
 * The parts of undici a proxy uses, loaded from undici's own dispatcher and api modules instead of
 * its package index. Why: `require('undici')` loads all of undici at once — fetch, WebSocket,
 * EventSource, the cache stores and interceptors, the mock agents — 103 modules, about 3 MiB of
 * V8 heap and 8 MiB of RSS in a process that uses none of them (BENCHMARKS.md, Data plane: RSS
 * with a 10,000-route bundle). The classes are the very same objects the index exports (the
 * index re-exports these modules; test/runtime/package-parts.test.ts checks that they are identical, so
 * an undici upgrade that moves a file fails that test, not a proxy). undici is pinned by
 * package-lock.json.
 *
 * Like the index, loading this module gives every Dispatcher its `request`, `stream`, `pipeline`,
 * `connect` and `upgrade` methods. `request` is undici's `request(url, opts)` for the calls Weft
 * makes (an absolute URL, options without `path`): the index builds it the same way, from the api
 * module's `request` called on `opts.dispatcher` or the global dispatcher.
 */
const load = createRequire(import.meta.url);

/** Pool is undici's Pool (lib/dispatcher/pool.js). */
export const Pool = load('undici/lib/dispatcher/pool.js') as typeof Undici.Pool;
/** Pool's instance type. */
export type Pool = Undici.Pool;
/** Pool's constructor options. */
export type PoolOptions = Undici.Pool.Options;

/** Agent is undici's Agent (lib/dispatcher/agent.js). */
export const Agent = load('undici/lib/dispatcher/agent.js') as typeof Undici.Agent;
/** Agent's instance type. */
export type Agent = Undici.Agent;

/** buildConnector is undici's connector factory (lib/core/connect.js). */
export const buildConnector = load('undici/lib/core/connect.js') as typeof Undici.buildConnector;

const api = load('undici/lib/api/index.js') as { request: (this: Undici.Dispatcher, opts: Undici.Dispatcher.RequestOptions) => Promise<Undici.Dispatcher.ResponseData> };
// What the index does on load: every Dispatcher (Pool, Agent, Client) gets request, stream,
// pipeline, connect and upgrade (the mirror filter calls pool.request).
Object.assign((load('undici/lib/dispatcher/dispatcher.js') as typeof Undici.Dispatcher).prototype, api);
const { getGlobalDispatcher } = load('undici/lib/global.js') as { getGlobalDispatcher: () => Undici.Dispatcher };

/** RequestOptions are undici's `request` options without `path`/`origin` (the URL gives them). */
export type RequestOptions = Omit<Undici.Dispatcher.RequestOptions, 'origin' | 'path' | 'method'> & { method?: Undici.Dispatcher.HttpMethod; dispatcher?: Undici.Dispatcher };

/**
 * request sends one request to the absolute `url` with `opts.dispatcher` (default: undici's global
 * dispatcher) and resolves with undici's ResponseData, as undici's `request` does. Throws
 * TypeError for a URL that is not absolute http(s), and undici's errors (UND_ERR_*) otherwise.
 */
export function request(url: string | URL, opts: RequestOptions = {}): Promise<Undici.Dispatcher.ResponseData> {
  const u = typeof url === 'string' ? new URL(url) : url;
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TypeError(`request: ${u.protocol} URLs are not supported`);
  const { dispatcher = getGlobalDispatcher(), ...rest } = opts;
  return api.request.call(dispatcher, {
    ...rest,
    origin: u.origin,
    path: u.search ? `${u.pathname}${u.search}` : u.pathname,
    method: opts.method ?? (opts.body ? 'PUT' : 'GET'),
  } as Undici.Dispatcher.RequestOptions);
}

/** Connector is what buildConnector returns (a `connect` function for Pool and Agent). */
export type Connector = Undici.buildConnector.connector;
