import { createRequire } from 'node:module';
import type { RE2JS } from 're2js';
import type { RouteMatch, RouteTable, Rule, ValueMatch } from '../../schemas/bundle.js';
import { EMPTY, Interner } from './intern.js';
import { parseQuery, requestHeader, type RouteRequest } from './request.js';

/**
 * Compiled route tables. Regular expressions are compiled once here, with re2js (RE2 semantics:
 * linear time, no backreferences), and match the WHOLE value (full-match, as Envoy's safe_regex
 * does): `/api/v[0-9]+` matches `/api/v2` but not `/api/v2/x`. Header values match whole too.
 */

/** CompiledValueMatch is one header or query-parameter condition. */
export interface CompiledValueMatch {
  readonly name: string;
  readonly exact: string | null;
  readonly regex: RE2JS | null;
  readonly source: ValueMatch;
}

/** CompiledMatch is a RouteMatch with its regexes compiled; `index` is its position in the table. */
export interface CompiledMatch {
  readonly index: number;
  readonly source: RouteMatch;
  readonly rule: Rule;
  readonly pathRegex: RE2JS | null;
  /** Normalised prefix for PathPrefix ('' for the root, so `prefix + '/'` tests a boundary). */
  readonly prefix: string;
  readonly method: string | null;
  readonly headers: readonly CompiledValueMatch[];
  readonly queryParams: readonly CompiledValueMatch[];
  readonly port: number | null;
}

/**
 * CompiledTable is a RouteTable ready for lookup: frozen, regexes compiled, index in Maps.
 * `matches[i].index === i`; every index list is ascending.
 */
export interface CompiledTable {
  readonly source: RouteTable;
  readonly matches: readonly CompiledMatch[];
  readonly exact: ReadonlyMap<string, readonly number[]>;
  readonly prefix: ReadonlyMap<string, readonly number[]>;
  readonly regex: readonly number[];
  /** Lengths of the prefix keys: the walk only slices and looks up paths of these lengths. */
  readonly prefixLengths: ReadonlySet<number>;
}

/** RegexCompileError: a regex in the bundle is not valid RE2 (the bundle is rejected). */
export class RegexCompileError extends Error {
  override name = 'RegexCompileError';
}

/**
 * re2js is loaded on the first regular expression: most tables have none, and the module is
 * 0.6 MiB of heap (and 2 MiB of RSS) in every proxy otherwise. Its CommonJS build, so that the
 * load stays synchronous (buildRouter is).
 */
let re2: typeof RE2JS | null = null;

function compileRegex(pattern: string, where: string): RE2JS {
  re2 ??= (createRequire(import.meta.url)('re2js') as { RE2JS: typeof RE2JS }).RE2JS;
  try {
    return re2.compile(pattern);
  } catch (err) {
    throw new RegexCompileError(`${where}: invalid RE2 regular expression ${JSON.stringify(pattern)}: ${(err as Error).message}`);
  }
}

function compileValue(v: ValueMatch, where: string, lowerName: boolean, interner: Interner): CompiledValueMatch {
  return Object.freeze({
    name: lowerName ? interner.string(v.name.toLowerCase()) : v.name,
    exact: v.type === 'Exact' ? v.value : null,
    regex: v.type === 'RegularExpression' ? compileRegex(v.value, where) : null,
    source: v,
  });
}

/**
 * compileTable compiles and freezes one table; throws RegexCompileError or RangeError on a
 * malformed table. Index lists and empty condition lists are shared through `interner` (one per
 * router build: see buildRouter); the table's parts are referred to, not copied.
 */
export function compileTable(table: RouteTable, interner: Interner = new Interner()): CompiledTable {
  const matches = table.matches.map((m, index): CompiledMatch => {
    const rule = table.rules[m.rule];
    if (!rule) throw new RangeError(`match ${m.id} names rule ${m.rule}, which does not exist`);
    const headers = m.headers.length === 0 ? EMPTY : Object.freeze(m.headers.map((h) => compileValue(h, `${m.id} header ${h.name}`, true, interner)));
    const queryParams = m.queryParams.length === 0 ? EMPTY : Object.freeze(m.queryParams.map((q) => compileValue(q, `${m.id} query ${q.name}`, false, interner)));
    const prefixValue = m.path.value.length > 1 && m.path.value.endsWith('/') ? m.path.value.slice(0, -1) : m.path.value;
    return Object.freeze({
      index,
      source: m,
      rule,
      pathRegex: m.path.type === 'RegularExpression' ? compileRegex(m.path.value, `${m.id} path`) : null,
      prefix: m.path.type === 'PathPrefix' ? (prefixValue === '/' ? '' : interner.string(prefixValue)) : '',
      method: m.method === null ? null : interner.string(m.method.toUpperCase()),
      headers,
      queryParams,
      port: m.port,
    });
  });
  const toMap = (rec: Record<string, number[]>): Map<string, readonly number[]> => {
    const map = new Map<string, readonly number[]>();
    for (const [k, v] of Object.entries(rec)) {
      for (const i of v) if (!matches[i]) throw new RangeError(`route index names match ${i}, which does not exist`);
      map.set(k, interner.value([...v].sort((a, b) => a - b)));
    }
    return map;
  };
  const prefix = toMap(table.index.prefix);
  return Object.freeze({
    source: table,
    matches: Object.freeze(matches),
    exact: toMap(table.index.exact),
    prefix,
    prefixLengths: new Set([...prefix.keys()].map((k) => k.length)),
    regex: interner.value([...table.index.regex].sort((a, b) => a - b)),
  });
}

/** Why a match did not match, for `weft explain`; null when it matched. */
export type MismatchReason =
  | { readonly on: 'path'; readonly detail: string }
  | { readonly on: 'method'; readonly detail: string }
  | { readonly on: 'header'; readonly name: string; readonly detail: string }
  | { readonly on: 'queryParam'; readonly name: string; readonly detail: string }
  | { readonly on: 'port'; readonly detail: string };

/** pathMatches applies a match's path condition. PathPrefix compares whole segments. */
export function pathMatches(m: CompiledMatch, path: string): boolean {
  switch (m.source.path.type) {
    case 'Exact':
      return path === m.source.path.value;
    case 'PathPrefix':
      // prefix '' is the root: everything matches. Otherwise the next char must end a segment.
      return m.prefix === '' || (path.startsWith(m.prefix) && (path.length === m.prefix.length || path.charCodeAt(m.prefix.length) === 47));
    case 'RegularExpression':
      return m.pathRegex !== null && m.pathRegex.testExact(path);
  }
}

function valueMatches(c: CompiledValueMatch, value: string | undefined): boolean {
  if (value === undefined) return false;
  return c.exact !== null ? value === c.exact : c.regex !== null && c.regex.testExact(value);
}

/**
 * RequestView caches per-request derived data (the parsed query) across the candidate matches of
 * one lookup, so the query string is parsed at most once and only when a match needs it.
 */
export class RequestView {
  private queryCache: Map<string, string> | null = null;
  constructor(
    readonly req: RouteRequest,
    readonly port: number | null,
  ) {}
  query(): Map<string, string> {
    return (this.queryCache ??= parseQuery(this.req.query));
  }
}

/** conditionsMatch applies everything but the path (method, port, headers, query). */
export function conditionsMatch(m: CompiledMatch, view: RequestView): boolean {
  if (m.method !== null && m.method !== view.req.method) return false;
  if (m.port !== null && view.port !== null && m.port !== view.port) return false;
  for (const h of m.headers) if (!valueMatches(h, requestHeader(view.req, h.name))) return false;
  if (m.queryParams.length > 0) {
    const q = view.query();
    for (const p of m.queryParams) if (!valueMatches(p, q.get(p.name))) return false;
  }
  return true;
}

/** mismatch explains the first failing condition of a match, or null when it matches. Not on the hot path. */
export function mismatch(m: CompiledMatch, view: RequestView): MismatchReason | null {
  if (!pathMatches(m, view.req.path)) {
    return { on: 'path', detail: `${m.source.path.type} ${JSON.stringify(m.source.path.value)} does not match ${JSON.stringify(view.req.path)}` };
  }
  if (m.method !== null && m.method !== view.req.method) return { on: 'method', detail: `wants ${m.method}, got ${view.req.method}` };
  if (m.port !== null && view.port !== null && m.port !== view.port) return { on: 'port', detail: `wants port ${m.port}, got ${view.port}` };
  for (const h of m.headers) {
    const v = requestHeader(view.req, h.name);
    if (!valueMatches(h, v)) {
      return { on: 'header', name: h.name, detail: `${h.source.type} ${JSON.stringify(h.source.value)}, got ${v === undefined ? 'no such header' : JSON.stringify(v)}` };
    }
  }
  for (const p of m.queryParams) {
    const v = view.query().get(p.name);
    if (!valueMatches(p, v)) {
      return { on: 'queryParam', name: p.name, detail: `${p.source.type} ${JSON.stringify(p.source.value)}, got ${v === undefined ? 'no such parameter' : JSON.stringify(v)}` };
    }
  }
  return null;
}

/** firstIn returns the smallest index of `list` below `limit` that fully matches, or `limit`. */
function firstIn(table: CompiledTable, list: readonly number[] | undefined, view: RequestView, limit: number, checkPath: boolean): number {
  if (list === undefined) return limit;
  for (const i of list) {
    if (i >= limit) return limit;
    const m = table.matches[i]!;
    if (checkPath && !pathMatches(m, view.req.path)) continue;
    if (conditionsMatch(m, view)) return i;
  }
  return limit;
}

/**
 * lookup returns the first match in table order that matches, or null. Candidates come from the
 * index: the exact path, every segment-boundary prefix of the path, and the regex list; each list
 * is ascending so the first hit of each list is its best, and the smallest wins.
 */
export function lookup(table: CompiledTable, view: RequestView): CompiledMatch | null {
  const path = view.req.path;
  const none = table.matches.length;
  let best = table.exact.size === 0 ? none : firstIn(table, table.exact.get(path), view, none, false);
  // Segment-boundary prefixes: "/" then "/a", "/a/b", ... and the whole path (trailing "/" ignored).
  // Only lengths some prefix key has are looked up, so most boundaries cost a Set probe, not a slice.
  if (table.prefix.size > 0) {
    const lengths = table.prefixLengths;
    if (lengths.has(1)) best = firstIn(table, table.prefix.get('/'), view, best, false);
    for (let i = path.indexOf('/', 1); i !== -1; i = path.indexOf('/', i + 1)) {
      if (lengths.has(i)) best = firstIn(table, table.prefix.get(path.slice(0, i)), view, best, false);
    }
    if (path.length > 1 && path.charCodeAt(path.length - 1) !== 47 && lengths.has(path.length)) best = firstIn(table, table.prefix.get(path), view, best, false);
  }
  if (table.regex.length > 0) best = firstIn(table, table.regex, view, best, true);
  return best === none ? null : table.matches[best]!;
}
