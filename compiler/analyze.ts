/**
 * analyze: cross-resource checks over the resolved tree (codes WFT501-WFT516). It reports and
 * returns its input unchanged: nothing here alters what lower produces, it only decides whether
 * lower may run (errors) and what the author should look at (warnings, info).
 */
import { report } from './diagnostics.js';
import { parseDuration } from './duration.js';
import { tablesByParent, matchKey, prefixMatchOf, type MatchEntry, type TableGroup } from './precedence.js';
import { checkRegex } from './regex.js';
import type { HTTPRouteFilter, HTTPRouteRule, MeshConfig, Route } from './resources.js';
import type { ResolvedTree } from './resolve.js';
import type { Diagnostic, PassContext } from './types.js';

/** Built-in defaults the analysis needs (lower.ts fills the same ones into the bundle). */
const DEFAULT_REQUEST_MS = 15_000;
const DEFAULT_BACKOFF_MS = 25;
const DEFAULT_ATTEMPTS = 1;

/**
 * Route findings kept per route object, with what they were computed from: the route's
 * resolution (resolve.ts: the same object when every reference resolved as before) and the
 * MeshConfig (its defaults set the timeouts the checks compare against).
 */
const routeFindings = new WeakMap<Route, { resolution: object | undefined; mesh: MeshConfig | null; diagnostics: readonly Diagnostic[] }>();

/** analyze reports WFT5xx findings for `tree` and returns it unchanged. */
export function analyze(tree: ResolvedTree, ctx: PassContext): ResolvedTree {
  const memo = ctx.options.memo;
  checkShadowing(tree, ctx);
  for (const r of tree.routes) {
    const resolution = tree.resolutions.get(r);
    const kept = memo ? routeFindings.get(r) : undefined;
    if (kept && kept.resolution === resolution && kept.mesh === tree.meshConfig) {
      ctx.diagnostics.push(...kept.diagnostics);
      continue;
    }
    const before = ctx.diagnostics.length;
    checkRoute(r, tree, ctx);
    if (memo) routeFindings.set(r, { resolution, mesh: tree.meshConfig, diagnostics: ctx.diagnostics.slice(before) });
  }
  if (tree.meshConfig) checkMeshConfig(tree.meshConfig, ctx);

  checkEndpoints(tree, ctx);
  if (tree.faults.size > 0) {
    const referencedFaults = new Set<object>(tree.extensions.values());
    for (const f of tree.faults.values()) {
      if (!referencedFaults.has(f)) {
        report(ctx, 'WFT510', `Fault ${f.metadata.namespace}/${f.metadata.name} is not used by any HTTPRoute ExtensionRef filter`, { origin: f.origin, pointer: '/metadata/name', resource: f });
      }
    }
  }
  for (const r of tree.routes) {
    if ((r.spec.parentRefs ?? []).length === 0) {
      report(ctx, 'WFT510', `${r.kind} ${r.metadata.namespace}/${r.metadata.name} has no parentRefs, so it applies to nothing`, { origin: r.origin, pointer: '/spec', resource: r }, { hint: 'add parentRefs: [{ kind: Service, name: <service> }]' });
    }
  }
  // A RateLimitPolicy on a route that attaches to no Service limits nothing.
  if (tree.routeRateLimits.size > 0) {
    const attached = new Set<string>();
    for (const list of tree.routesByParent.values()) for (const a of list) attached.add(`${a.route.metadata.namespace}/${a.route.metadata.name}`);
    for (const r of tree.routes) {
      const id = `${r.metadata.namespace}/${r.metadata.name}`;
      if (attached.has(id)) continue;
      for (const p of tree.routeRateLimits.get(id) ?? []) {
        report(ctx, 'WFT510', `RateLimitPolicy ${p.metadata.namespace}/${p.metadata.name} targets HTTPRoute ${id}, which is attached to no Service`, { origin: p.origin, pointer: '/spec/targetRefs', resource: p });
      }
    }
  }
  return tree;
}

/**
 * WFT511: a Service whose own endpoints receive traffic but that lists none in git. That is how a
 * Service fed only by registration is declared (docs/discovery.md: its proxies register with the
 * controller), so it is a note, not a warning: only without a controller (`weft proxy --bundle`)
 * do callers get 503. A Service with a producer route that no backendRef or
 * mirror names never sends to its own endpoints (its routes decide), so it gets nothing.
 */
function checkEndpoints(tree: ResolvedTree, ctx: PassContext): void {
  // Built on first need: most Services list endpoints, and the set costs a walk of every backend.
  let targetSet: Set<string> | null = null;
  const targets = (): Set<string> => {
    if (!targetSet) {
      targetSet = new Set<string>();
      for (const b of tree.backends.values()) targetSet.add(b.service);
    }
    return targetSet;
  };
  for (const [id, svc] of tree.services) {
    if ((svc.spec.endpoints ?? []).length > 0) continue;
    // With a producer route every caller without a consumer table of its own is routed by it
    // (a request no rule matches is 404), so the Service's own endpoints are never picked.
    if (!targets().has(id) && (tree.routesByParent.get(id) ?? []).some((a) => !a.consumer)) continue;
    const name = `${svc.metadata.namespace}/${svc.metadata.name}`;
    report(ctx, 'WFT511', `Service ${name} lists no static endpoints: its traffic goes to the instances that register (weft proxy --service ${svc.metadata.name} --controller URL); without a controller (weft proxy --bundle) callers get 503`, { origin: svc.origin, pointer: '/spec', resource: svc }, {
      hint: 'nothing to do if its instances run a Weft proxy; list spec.endpoints for an upstream that cannot register (a database, an external API)',
    });
  }
}

/** Shadowing findings per table object: a table kept by the memo (precedence.ts) keeps its findings. */
const shadowed = new WeakMap<TableGroup, readonly Diagnostic[]>();

/** WFT501: within one table, a match whose key an earlier (higher-precedence) match already has. */
function checkShadowing(tree: ResolvedTree, ctx: PassContext): void {
  const memo = ctx.options.memo;
  for (const groups of tablesByParent(tree, memo).values()) {
    for (const g of groups) {
      const kept = memo ? shadowed.get(g) : undefined;
      if (kept) {
        ctx.diagnostics.push(...kept);
        continue;
      }
      const before = ctx.diagnostics.length;
      checkTable(g, ctx);
      if (memo) shadowed.set(g, ctx.diagnostics.slice(before));
    }
  }
}

function checkTable(g: TableGroup, ctx: PassContext): void {
  const winners = new Map<string, MatchEntry>();
  for (const e of g.entries) {
    const k = matchKey(e.match);
    const w = winners.get(k);
    if (!w) {
      winners.set(k, e);
      continue;
    }
    // The same rule reached twice through two parentRefs is one rule, not a shadow.
    if (w.rule === e.rule && w.matchIndex === e.matchIndex) continue;
    const route = e.attachment.route;
    const pointer = e.implicit ? `/spec/rules/${e.ruleIndex}` : `/spec/rules/${e.ruleIndex}/matches/${e.matchIndex}`;
    const winner = `${w.routeKey} rule ${w.ruleIndex} match ${w.matchIndex} (${w.attachment.route.origin.file})`;
    const scope = g.consumer ? `callers in namespace ${g.table}` : 'all callers';
    report(ctx, 'WFT501', `this match of ${e.routeKey} rule ${e.ruleIndex} can never be chosen for Service ${g.parent} (${scope}): ${winner} has an identical match and takes precedence`, { origin: route.origin, pointer, resource: route }, {
      hint: 'remove the duplicate match or make it more specific',
    });
  }
}

function checkRoute(r: Route, tree: ResolvedTree, ctx: PassContext): void {
  const place = (pointer: string): { origin: Route['origin']; pointer: string; resource: Route } => ({ origin: r.origin, pointer, resource: r });
  const parents = new Set((r.spec.parentRefs ?? []).map((p) => `${p.namespace ?? r.metadata.namespace}/${p.name}`));
  if ((r.spec.hostnames ?? []).length > 0 && (r.spec.parentRefs ?? []).length > 0) {
    report(ctx, 'WFT514', 'hostnames have no effect on a route whose parents are Services (GAMMA): it applies to all traffic to the Service', place('/spec/hostnames'));
  }
  const mesh = tree.meshConfig?.spec.defaults;
  (r.spec.rules ?? []).forEach((rule, ri) => {
    const rp = `/spec/rules/${ri}`;
    const filters = rule.filters ?? [];
    const backends = rule.backendRefs ?? [];
    const redirects = filters.some((f) => f.type === 'RequestRedirect');

    if (backends.length > 0 && backends.every((b) => (b.weight ?? 1) === 0)) {
      report(ctx, 'WFT502', 'every backendRef of this rule has weight 0; matching requests get 500 (Gateway API HTTPRouteAllBackendsWeightZero)', place(`${rp}/backendRefs`));
    }
    if (redirects && backends.length > 0) {
      report(ctx, 'WFT505', 'this rule redirects every request, so its backendRefs are never used', place(`${rp}/backendRefs`));
    }
    if (!redirects && backends.length === 0) {
      report(ctx, 'WFT512', 'this rule has neither backendRefs nor a RequestRedirect; matching requests get 500', place(rp));
    }

    checkTimeouts(rule, rp, mesh?.timeouts?.request, place, ctx);
    checkRetry(rule.retry, `${rp}/retry`, rule.timeouts?.request ?? mesh?.timeouts?.request, mesh?.retry, place, ctx);
    // Pointers are written only for lists that have entries: most rules have no filters.
    if (filters.length > 0) checkFilters(filters, rule, `${rp}/filters`, place, ctx);
    backends.forEach((b, bi) => {
      if ((b.filters ?? []).length > 0) checkFilters(b.filters ?? [], rule, `${rp}/backendRefs/${bi}/filters`, place, ctx);
    });

    // Mirrors to the route's own parent would be routed by this very table again.
    const checkMirror = (f: HTTPRouteFilter, fp: () => string): void => {
      if (f.type !== 'RequestMirror' || !f.requestMirror) return;
      const target = tree.backends.get(f.requestMirror.backendRef);
      if (target && parents.has(target.service)) {
        report(ctx, 'WFT513', `RequestMirror sends copies to ${target.service}, this route's own parent, which would mirror them again`, place(`${fp()}/requestMirror/backendRef`));
      }
    };
    filters.forEach((f, fi) => checkMirror(f, () => `${rp}/filters/${fi}`));
    backends.forEach((b, bi) => (b.filters ?? []).forEach((f, fi) => checkMirror(f, () => `${rp}/backendRefs/${bi}/filters/${fi}`)));

    (rule.matches ?? []).forEach((m, mi) => {
      if (m.path?.type === 'RegularExpression' && m.path.value !== undefined) regex(m.path.value, `${rp}/matches/${mi}/path/value`);
      const headers = m.headers ?? [];
      if (headers.length > 0) {
        const headerNames = new Set<string>();
        headers.forEach((h, hi) => {
          const name = h.name.toLowerCase();
          if (headerNames.has(name)) report(ctx, 'WFT515', `header ${h.name} is already matched earlier in this match; only the first counts`, place(`${rp}/matches/${mi}/headers/${hi}`));
          headerNames.add(name);
          if (h.type === 'RegularExpression') regex(h.value, `${rp}/matches/${mi}/headers/${hi}/value`);
        });
      }
      const params = m.queryParams ?? [];
      if (params.length > 0) {
        const paramNames = new Set<string>();
        params.forEach((q, qi) => {
          if (paramNames.has(q.name)) report(ctx, 'WFT515', `query parameter ${q.name} is already matched earlier in this match; only the first counts`, place(`${rp}/matches/${mi}/queryParams/${qi}`));
          paramNames.add(q.name);
          if (q.type === 'RegularExpression') regex(q.value, `${rp}/matches/${mi}/queryParams/${qi}/value`);
        });
      }
    });
  });

  function regex(pattern: string, pointer: string): void {
    const problem = checkRegex(pattern);
    if (problem) report(ctx, problem.code, problem.message, place(pointer), problem.hint ? { hint: problem.hint } : {});
  }
}

type PlaceFn = (pointer: string) => { origin: Route['origin']; pointer: string; resource: Route };

function checkTimeouts(rule: HTTPRouteRule, rp: string, meshRequest: string | undefined, place: PlaceFn, ctx: PassContext): void {
  const backend = rule.timeouts?.backendRequest;
  if (backend === undefined) return;
  const requestText = rule.timeouts?.request ?? meshRequest;
  const request = requestText === undefined ? DEFAULT_REQUEST_MS : parseDuration(requestText);
  const backendMs = parseDuration(backend);
  if (request === null || backendMs === null) return; // malformed: validate reports WFT304
  if (request !== 0 && backendMs > request) {
    const from = rule.timeouts?.request !== undefined ? '' : requestText === undefined ? ' (the built-in default)' : ' (the MeshConfig default)';
    report(ctx, 'WFT503', `timeouts.backendRequest ${backend} is longer than the request timeout ${requestText ?? '15s'}${from}`, place(`${rp}/timeouts/backendRequest`), {
      hint: 'make backendRequest at most request, or set request to 0s',
    });
  }
}

function checkRetry(
  retry: HTTPRouteRule['retry'],
  pointer: string,
  requestText: string | undefined,
  meshRetry: { attempts?: number; codes?: number[]; backoff?: string } | undefined,
  place: PlaceFn,
  ctx: PassContext,
): void {
  if (!retry) return;
  (retry.codes ?? []).forEach((c, ci) => {
    if (c < 400 || c > 599) report(ctx, 'WFT504', `retry code ${c} is not an HTTP error status (400-599)`, place(`${pointer}/codes/${ci}`));
  });
  checkRetryRoom(retry.attempts ?? meshRetry?.attempts ?? DEFAULT_ATTEMPTS, retry.backoff ?? meshRetry?.backoff, requestText, place(pointer), ctx);
}

/** WFT516: the minimum total backoff of all retries already fills the request timeout. */
function checkRetryRoom(attempts: number, backoffText: string | undefined, requestText: string | undefined, where: Parameters<typeof report>[3], ctx: PassContext): void {
  const backoff = backoffText === undefined ? DEFAULT_BACKOFF_MS : parseDuration(backoffText);
  const request = requestText === undefined ? DEFAULT_REQUEST_MS : parseDuration(requestText);
  if (backoff === null || request === null || request === 0) return;
  if (attempts * backoff >= request) {
    report(ctx, 'WFT516', `${attempts} retries with at least ${backoff}ms backoff each need ${attempts * backoff}ms, but the request timeout is ${request}ms`, where, {
      hint: 'lower attempts or backoff, or raise timeouts.request',
    });
  }
}

function checkMeshConfig(mc: MeshConfig, ctx: PassContext): void {
  const d = mc.spec.defaults;
  const place = (pointer: string): { origin: MeshConfig['origin']; pointer: string; resource: MeshConfig } => ({ origin: mc.origin, pointer, resource: mc });
  const req = d?.timeouts?.request;
  const back = d?.timeouts?.backendRequest;
  if (back !== undefined) {
    const r = req === undefined ? DEFAULT_REQUEST_MS : parseDuration(req);
    const b = parseDuration(back);
    if (r !== null && b !== null && r !== 0 && b > r) {
      report(ctx, 'WFT503', `defaults.timeouts.backendRequest ${back} is longer than the request timeout ${req ?? '15s'}`, place('/spec/defaults/timeouts/backendRequest'));
    }
  }
  if (d?.retry) {
    (d.retry.codes ?? []).forEach((c, ci) => {
      if (c < 400 || c > 599) report(ctx, 'WFT504', `retry code ${c} is not an HTTP error status (400-599)`, place(`/spec/defaults/retry/codes/${ci}`));
    });
    checkRetryRoom(d.retry.attempts ?? DEFAULT_ATTEMPTS, d.retry.backoff, req, place('/spec/defaults/retry'), ctx);
  }
}

const SINGLE = ['RequestHeaderModifier', 'ResponseHeaderModifier', 'RequestRedirect', 'URLRewrite'] as const;

/** WFT506 and WFT507 for one filter list (a rule's, or one backendRef's). */
function checkFilters(filters: HTTPRouteFilter[], rule: HTTPRouteRule, base: string, place: PlaceFn, ctx: PassContext): void {
  const seen = new Map<string, number>();
  filters.forEach((f, fi) => {
    if ((SINGLE as readonly string[]).includes(f.type)) {
      const first = seen.get(f.type);
      if (first !== undefined) {
        report(ctx, 'WFT507', `${f.type} appears more than once (first at filter ${first}); the spec allows one per rule`, place(`${base}/${fi}/type`));
      } else {
        seen.set(f.type, fi);
      }
    }
    const path = f.type === 'RequestRedirect' ? f.requestRedirect?.path : f.type === 'URLRewrite' ? f.urlRewrite?.path : undefined;
    if (path?.type === 'ReplacePrefixMatch' && prefixMatchOf(rule) === null) {
      const key = f.type === 'RequestRedirect' ? 'requestRedirect' : 'urlRewrite';
      report(ctx, 'WFT506', 'ReplacePrefixMatch needs the rule to have exactly one match, with a PathPrefix path', place(`${base}/${fi}/${key}/path/type`), {
        hint: 'use ReplaceFullPath, or split the rule so each has one PathPrefix match',
      });
    }
  });
  const redirect = seen.get('RequestRedirect');
  const rewrite = seen.get('URLRewrite');
  if (redirect !== undefined && rewrite !== undefined) {
    report(ctx, 'WFT507', 'RequestRedirect and URLRewrite cannot be used in the same rule', place(`${base}/${Math.max(redirect, rewrite)}/type`));
  }
}
