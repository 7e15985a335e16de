/**
 * Route tables and Gateway API precedence, decided once in the compiler (the proxy takes the
 * first match). Used by analyze (shadowed matches) and lower (the bundle's order), so the two
 * can never disagree about which match wins.
 *
 * Order (each step only breaks ties left by the previous one):
 *  1. path type: Exact, then RegularExpression, then PathPrefix. The spec leaves regex
 *     precedence to implementations; Weft puts regexes between Exact and PathPrefix (like Envoy
 *     Gateway) because a regex is written to select a narrower set than a prefix;
 *  2. within RegularExpression: the longer pattern first (a stand-in for "more specific");
 *     within PathPrefix: the prefix with more characters first;
 *  3. a match with a method before one without;
 *  4. more header matches first;
 *  5. more query-parameter matches first;
 *  6. the older route (metadata.creationTimestamp); a route without one sorts after all that have one;
 *  7. route `namespace/name`, alphabetical;
 *  8. rule order within the route, then match order within the rule, then parentRef order.
 * Steps 1-5 and 6-8 are the spec's; the regex placement and the parentRef step are Weft's.
 *
 * GRPCRoute tables (a table never mixes the two kinds, resolve.ts) use the GRPCRoute order in
 * place of steps 1-5: more characters in the matched gRPC service, then in the method, then more
 * header matches (the hostname steps do not apply to Service parents); then steps 6-8.
 */
import type { PathMatch, ValueMatch } from '../schemas/bundle.js';
import type { HTTPRouteMatch, HTTPRouteRule } from './resources.js';
import type { Attachment, ResolvedTree } from './resolve.js';
import { grpcRank } from './grpcroute.js';
import type { CompileMemo } from './memo.js';

/** NormalMatch is one HTTPRouteMatch with defaults applied and names normalised (RouteMatch minus ids). */
export interface NormalMatch {
  path: PathMatch;
  method: string | null;
  headers: ValueMatch[];
  queryParams: ValueMatch[];
  port: number | null;
}

/** MatchEntry is one (attachment × rule × match): one future RouteMatch of a table. */
export interface MatchEntry {
  attachment: Attachment;
  rule: HTTPRouteRule;
  ruleIndex: number;
  /** Index within rule.matches; 0 for the implicit match of a rule without matches. */
  matchIndex: number;
  /** True when the rule had no matches and this is the implied PathPrefix "/". */
  implicit: boolean;
  match: NormalMatch;
  /** creationTimestamp in ms since the epoch, or null when absent or unreadable. */
  created: number | null;
  /** Route `namespace/name`. */
  routeKey: string;
  /** For a GRPCRoute match: characters in its service and method (the GRPCRoute precedence keys); else null. */
  grpc: GrpcRank | null;
}

/** TableGroup is one future RouteTable: the entries of one parent for one caller namespace, in precedence order. */
export interface TableGroup {
  /** Parent Service id. */
  parent: string;
  /** Caller namespace this table serves (the Service's namespace for the producer table). */
  table: string;
  consumer: boolean;
  /** Sorted by compareEntries; never empty. */
  entries: MatchEntry[];
}

/** normalizePrefix drops trailing slashes (Gateway API ignores them), keeping the root "/". */
export function normalizePrefix(value: string): string {
  let v = value;
  while (v.length > 1 && v.endsWith('/')) v = v.slice(0, -1);
  return v === '' ? '/' : v;
}

/** normalizeMatch applies defaults: no path is PathPrefix "/"; header names lower-cased; first of a repeated name kept. */
export function normalizeMatch(m: HTTPRouteMatch | undefined, port: number | null): NormalMatch {
  const type = m?.path?.type ?? 'PathPrefix';
  const raw = m?.path?.value ?? '/';
  const path: PathMatch = { type, value: type === 'PathPrefix' ? normalizePrefix(raw) : raw };
  const headers: ValueMatch[] = [];
  const seenHeaders = new Set<string>();
  for (const h of m?.headers ?? []) {
    const name = h.name.toLowerCase();
    if (seenHeaders.has(name)) continue;
    seenHeaders.add(name);
    headers.push({ name, type: h.type ?? 'Exact', value: h.value });
  }
  const queryParams: ValueMatch[] = [];
  const seenParams = new Set<string>();
  for (const q of m?.queryParams ?? []) {
    if (seenParams.has(q.name)) continue;
    seenParams.add(q.name);
    queryParams.push({ name: q.name, type: q.type ?? 'Exact', value: q.value });
  }
  return { path, method: m?.method ?? null, headers, queryParams, port };
}

/**
 * prefixMatchOf is the normalised PathPrefix a ReplacePrefixMatch rewrites, or null when the rule
 * does not have exactly one match with a PathPrefix path (a rule without matches is PathPrefix "/").
 */
export function prefixMatchOf(rule: HTTPRouteRule): string | null {
  const matches = rule.matches ?? [];
  if (matches.length === 0) return '/';
  if (matches.length !== 1) return null;
  const path = matches[0]?.path;
  if (path && (path.type ?? 'PathPrefix') !== 'PathPrefix') return null;
  return normalizePrefix(path?.value ?? '/');
}

/** matchKey is equal for two matches exactly when they select the same requests syntactically. */
export function matchKey(m: NormalMatch): string {
  return JSON.stringify([m.path.type, m.path.value, m.method, valueKeys(m.headers), valueKeys(m.queryParams), m.port]);
}

const NO_KEYS: readonly string[] = Object.freeze([]);
const byName = (a: ValueMatch, b: ValueMatch): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** valueKeys is a header or query list as order-free text (most lists are empty or hold one). */
function valueKeys(l: ValueMatch[]): readonly string[] {
  if (l.length === 0) return NO_KEYS;
  if (l.length === 1) return [`${l[0]!.type}:${l[0]!.name}=${l[0]!.value}`];
  return [...l].sort(byName).map((v) => `${v.type}:${v.name}=${v.value}`);
}

const PATH_RANK: Readonly<Record<PathMatch['type'], number>> = { Exact: 0, RegularExpression: 1, PathPrefix: 2 };

function cmpStr(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** GrpcRank is the GRPCRoute precedence keys of a match: characters in its service and method. */
export interface GrpcRank {
  readonly service: number;
  readonly method: number;
}

/**
 * Ranked is what the specificity steps read: the match (a NormalMatch, or a bundle RouteMatch)
 * and, for a GRPCRoute match, its GrpcRank. A MatchEntry is one.
 */
export interface Ranked {
  readonly match: Pick<NormalMatch, 'path' | 'method' | 'headers' | 'queryParams'>;
  readonly grpc: GrpcRank | null;
}

/** SpecificityStep is one precedence step before the tie-breakers: how it orders two matches, and how to say so. */
export interface SpecificityStep {
  /** Negative: `a` first; 0: this step does not decide. */
  compare(a: Ranked, b: Ranked): number;
  /** Why `a` comes before `b`, in words (`weft explain`); only called when compare(a, b) < 0. */
  explain(a: Ranked, b: Ranked): string;
}

const q = (v: string): string => JSON.stringify(v);

const MORE_HEADERS: SpecificityStep = {
  compare: (a, b) => b.match.headers.length - a.match.headers.length,
  explain: (a, b) => `more header matches: ${a.match.headers.length} before ${b.match.headers.length}`,
};

/**
 * SPECIFICITY is HTTPRoute precedence steps 1-5 in order, the one place they are written:
 * compareEntries sorts with them and `weft explain` (runtime/testing) names the step that decided
 * with them.
 */
export const SPECIFICITY: readonly SpecificityStep[] = [
  {
    compare: (a, b) => PATH_RANK[a.match.path.type] - PATH_RANK[b.match.path.type],
    explain: (a, b) => `path match type: ${a.match.path.type} before ${b.match.path.type}`,
  },
  {
    // Reached only for two paths of the same type.
    compare: ({ match: a }, { match: b }) => (a.path.type !== 'Exact' && a.path.type === b.path.type ? b.path.value.length - a.path.value.length : 0),
    explain: ({ match: a }, { match: b }) =>
      a.path.type === 'PathPrefix'
        ? `longer path prefix: ${q(a.path.value)} (${a.path.value.length} characters) before ${q(b.path.value)} (${b.path.value.length})`
        : `longer regular expression (${a.path.value.length} characters before ${b.path.value.length})`,
  },
  {
    compare: (a, b) => (a.match.method === null ? 1 : 0) - (b.match.method === null ? 1 : 0),
    explain: (a) => `method match: ${a.match.method ?? ''} before any method`,
  },
  MORE_HEADERS,
  {
    compare: (a, b) => b.match.queryParams.length - a.match.queryParams.length,
    explain: (a, b) => `more query parameter matches: ${a.match.queryParams.length} before ${b.match.queryParams.length}`,
  },
];

/** GRPC_SPECIFICITY is the GRPCRoute order: more characters in the service match, then in the method match, then more header matches. */
export const GRPC_SPECIFICITY: readonly SpecificityStep[] = [
  {
    compare: (a, b) => (b.grpc?.service ?? 0) - (a.grpc?.service ?? 0),
    explain: (a, b) => `more characters in the gRPC service match: ${a.grpc?.service ?? 0} before ${b.grpc?.service ?? 0}`,
  },
  {
    compare: (a, b) => (b.grpc?.method ?? 0) - (a.grpc?.method ?? 0),
    explain: (a, b) => `more characters in the gRPC method match: ${a.grpc?.method ?? 0} before ${b.grpc?.method ?? 0}`,
  },
  MORE_HEADERS,
];

/**
 * decidingStep is the first specificity step that orders `a` and `b` (GRPC_SPECIFICITY when both
 * are GRPCRoute matches, else SPECIFICITY), or null when they tie and the tie-breakers decide.
 */
export function decidingStep(a: Ranked, b: Ranked): { step: SpecificityStep; order: number } | null {
  for (const step of a.grpc && b.grpc ? GRPC_SPECIFICITY : SPECIFICITY) {
    const order = step.compare(a, b);
    if (order !== 0) return { step, order };
  }
  return null;
}

/** compareEntries is the total precedence order described at the top of this file (negative: `a` first). */
export function compareEntries(a: MatchEntry, b: MatchEntry): number {
  const pa = a.match.path;
  const pb = b.match.path;
  const specific = decidingStep(a, b);
  if (specific !== null) return specific.order;
  if (a.created !== b.created) {
    if (a.created === null) return 1;
    if (b.created === null) return -1;
    return a.created - b.created;
  }
  return (
    cmpStr(a.routeKey, b.routeKey) ||
    a.ruleIndex - b.ruleIndex ||
    a.matchIndex - b.matchIndex ||
    a.attachment.parentIndex - b.attachment.parentIndex ||
    // Equal up to here only for two different paths of the same Exact/regex kind in one match
    // list position, which cannot happen; compare values so the order is total regardless.
    cmpStr(pa.value, pb.value)
  );
}

function created(ts: string | undefined): number | null {
  if (ts === undefined) return null;
  const t = Date.parse(ts);
  return Number.isFinite(t) ? t : null;
}

const computed = new WeakMap<ResolvedTree, ReadonlyMap<string, readonly TableGroup[]>>();

/** Per CompileMemo: each parent's attachments and the tables built from them, from the last compile. */
const memos = new WeakMap<CompileMemo, Map<string, { attachments: readonly Attachment[]; groups: readonly TableGroup[] }>>();

/**
 * tablesByParent is every parent Service's tables (producer first, then consumer namespaces in
 * order), keyed by parent id in sorted order; computed once per resolved tree (analyze and lower
 * share it). The tree must not change after the first call; no pass mutates a ResolvedTree.
 *
 * With a memo, a parent whose attachments are the very same objects as in the last compile keeps
 * its tables (the same array and TableGroup objects): its routes and what they attach with are
 * unchanged, and a table is a function of those alone. Everything else is built afresh.
 */
export function tablesByParent(tree: ResolvedTree, memo?: CompileMemo): ReadonlyMap<string, readonly TableGroup[]> {
  let out = computed.get(tree);
  if (out) return out;
  const before = memo ? memos.get(memo) : undefined;
  const next = new Map<string, { attachments: readonly Attachment[]; groups: readonly TableGroup[] }>();
  const built = new Map<string, readonly TableGroup[]>();
  for (const parent of [...tree.routesByParent.keys()].sort()) {
    const attachments = tree.routesByParent.get(parent) ?? [];
    const prev = before?.get(parent);
    let groups = prev && sameItems(prev.attachments, attachments) ? prev.groups : null;
    if (!groups) {
      groups = buildParentTables(parent, attachments);
      if (memo) memo.stats.tabled++;
    }
    if (groups.length === 0) continue;
    built.set(parent, groups);
    next.set(parent, { attachments, groups });
  }
  if (memo) memos.set(memo, next);
  out = built;
  computed.set(tree, out);
  return out;
}

function sameItems<T>(a: readonly T[], b: readonly T[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * buildParentTables groups one parent's attached routes' matches into tables (one per caller
 * namespace) and sorts each by precedence: producer table first, then consumer namespaces in
 * order. Linear in the number of matches plus the sorts.
 */
function buildParentTables(parent: string, attachments: readonly Attachment[]): TableGroup[] {
  const byTable = new Map<string, TableGroup>();
  for (const att of attachments) {
    let g = byTable.get(att.table);
    if (!g) {
      g = { parent, table: att.table, consumer: att.consumer, entries: [] };
      byTable.set(att.table, g);
    }
    const group = g;
    const route = att.route;
    const routeKey = `${route.metadata.namespace}/${route.metadata.name}`;
    const ts = created(route.metadata.creationTimestamp);
    const rules = route.spec.rules ?? [];
    // A route without rules routes nothing; an HTTPRoute whose `rules` is empty is accepted by
    // the spec only with the default rule, so treat it as one rule with no matches and no backends.
    const effective: HTTPRouteRule[] = rules.length > 0 ? rules : [{}];
    effective.forEach((rule, ruleIndex) => {
      const matches = rule.matches ?? [];
      const grpcRule = route.kind === 'GRPCRoute' ? (route.grpc.rules?.[ruleIndex] ?? {}) : null;
      if (matches.length === 0) {
        group.entries.push({ attachment: att, rule, ruleIndex, matchIndex: 0, implicit: true, match: normalizeMatch(undefined, att.port), created: ts, routeKey, grpc: grpcRule ? grpcRank(undefined) : null });
        return;
      }
      matches.forEach((m, matchIndex) => {
        group.entries.push({ attachment: att, rule, ruleIndex, matchIndex, implicit: false, match: normalizeMatch(m, att.port), created: ts, routeKey, grpc: grpcRule ? grpcRank(grpcRule.matches?.[matchIndex]) : null });
      });
    });
  }
  const tables = [...byTable.values()].sort((a, b) => (a.consumer === b.consumer ? cmpStr(a.table, b.table) : a.consumer ? 1 : -1));
  for (const g of tables) g.entries.sort(compareEntries);
  return tables;
}
