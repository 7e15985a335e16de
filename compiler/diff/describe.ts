/**
 * Short, stable, human-readable renderings of bundle pieces. The semantic diff compares these
 * strings (two pieces are "the same for traffic" when they render the same), and every diff
 * format prints them, so what a reviewer reads is exactly what was compared.
 */
import type {
  AuthorizationPolicyEntry,
  AuthorizationRule,
  Filter,
  HeaderModifier,
  PathModifier,
  RateLimit,
  RetryPolicy,
  RouteMatch,
  Rule,
  Timeouts,
  ValueMatch,
} from '../../schemas/bundle.js';

/** shortService drops the `default/` namespace from a Service id: `default/reviews` → `reviews`. */
export function shortService(id: string): string {
  return id.startsWith('default/') ? id.slice('default/'.length) : id;
}

const UNITS: readonly [string, number][] = [
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1000],
  ['ms', 1],
];

/** formatMs renders milliseconds as a GEP-2257 duration (`1m30s`); 0 renders as `off`. */
export function formatMs(ms: number): string {
  if (ms === 0) return 'off';
  let rest = ms;
  let out = '';
  for (const [unit, size] of UNITS) {
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  return out;
}

/** formatPercent renders a share with at most two decimals and no trailing zeros: `33.33%`. */
export function formatPercent(p: number): string {
  return `${Number(p.toFixed(2))}%`;
}

function valueMatch(kind: string, m: ValueMatch): string {
  return m.type === 'Exact' ? `${kind} ${m.name}=${m.value}` : `${kind} ${m.name}~${m.value}`;
}

/**
 * describeMatch renders what a RouteMatch selects: `prefix /api GET header x-user=beta`. Two
 * matches select the same requests exactly when they render the same (header names are already
 * lower-cased and paths normalised by the compiler).
 */
export function describeMatch(m: Pick<RouteMatch, 'path' | 'method' | 'headers' | 'queryParams' | 'port'>): string {
  const kind = m.path.type === 'Exact' ? 'exact' : m.path.type === 'PathPrefix' ? 'prefix' : 'regex';
  const parts = [`${kind} ${m.path.value}`];
  if (m.method) parts.push(m.method);
  for (const h of m.headers) parts.push(valueMatch('header', h));
  for (const q of m.queryParams) parts.push(valueMatch('query', q));
  if (m.port !== null) parts.push(`port ${m.port}`);
  return parts.join(' ');
}

/**
 * describeBackends renders where a rule sends traffic, with shares of the rule's total weight:
 * `reviews-v1 90%, reviews-v2 10%`. Weight that belongs to invalid backends shows as `500 N%`;
 * a direct response shows as its status and reason.
 */
export function describeBackends(rule: Pick<Rule, 'backends' | 'totalWeight' | 'direct' | 'filters'>): string {
  if (rule.direct) return `${rule.direct.status} (${rule.direct.reason})`;
  const redirect = rule.filters.find((f) => f.type === 'RequestRedirect');
  if (redirect && rule.backends.length === 0) return describeFilter(redirect);
  if (rule.totalWeight <= 0 || rule.backends.length === 0) return 'no backends';
  const parts = rule.backends.map((b) => `${shortService(b.service)} ${formatPercent((b.weight / rule.totalWeight) * 100)}`);
  const valid = rule.backends.reduce((s, b) => s + b.weight, 0);
  if (valid < rule.totalWeight) parts.push(`500 ${formatPercent(((rule.totalWeight - valid) / rule.totalWeight) * 100)}`);
  return parts.join(', ');
}

function headerModifier(m: HeaderModifier): string {
  const parts: string[] = [];
  for (const s of m.set) parts.push(`set ${s.name}: ${s.value}`);
  for (const a of m.add) parts.push(`add ${a.name}: ${a.value}`);
  for (const r of m.remove) parts.push(`remove ${r}`);
  return parts.join(', ');
}

function pathModifier(p: PathModifier): string {
  return p.type === 'ReplaceFullPath' ? `path ${p.value}` : `prefix ${p.prefix} → ${p.value || '/'}`;
}

/** describeFilter renders one filter on one line: `URLRewrite prefix /api/v1 → /api`. */
export function describeFilter(f: Filter): string {
  switch (f.type) {
    case 'RequestHeaderModifier':
      return `RequestHeaderModifier ${headerModifier(f.modifier)}`;
    case 'ResponseHeaderModifier':
      return `ResponseHeaderModifier ${headerModifier(f.modifier)}`;
    case 'RequestRedirect': {
      const r = f.redirect;
      const parts = [`redirect ${r.statusCode}`];
      if (r.scheme) parts.push(`scheme ${r.scheme}`);
      if (r.hostname) parts.push(`host ${r.hostname}`);
      if (r.port !== null) parts.push(`port ${r.port}`);
      if (r.path) parts.push(pathModifier(r.path));
      return parts.join(' ');
    }
    case 'URLRewrite': {
      const parts = ['URLRewrite'];
      if (f.rewrite.hostname) parts.push(`host ${f.rewrite.hostname}`);
      if (f.rewrite.path) parts.push(pathModifier(f.rewrite.path));
      return parts.join(' ');
    }
    case 'RequestMirror':
      return `mirror ${formatPercent(f.mirror.percent)} to ${shortService(f.mirror.service)}:${f.mirror.port}`;
    case 'Fault': {
      const parts = [`fault ${f.name}`];
      if (f.fault.delay) parts.push(`delay ${formatMs(f.fault.delay.ms)} ${formatPercent(f.fault.delay.percent)}`);
      if (f.fault.abort) parts.push(`abort ${f.fault.abort.status} ${formatPercent(f.fault.abort.percent)}`);
      return parts.join(' ');
    }
  }
}

/** describeTimeouts renders both timeouts: `request 10s, backendRequest 2s` (`off` = disabled). */
export function describeTimeouts(t: Timeouts): string {
  return `request ${formatMs(t.requestMs)}, backendRequest ${formatMs(t.backendRequestMs)}`;
}

/** describeRetry renders a retry policy: `2 attempts on 502,503, backoff 50ms`, or `none`. */
export function describeRetry(r: RetryPolicy | null): string {
  if (!r) return 'none';
  return `${r.attempts} ${r.attempts === 1 ? 'attempt' : 'attempts'} on ${r.codes.join(',')}, backoff ${formatMs(r.backoffMs)}`;
}

/** describeRateLimit renders one limit: `caller: 100/1s burst 120 (default/ratings)`. */
export function describeRateLimit(l: RateLimit): string {
  return `${l.key}: ${l.requests}/${formatMs(l.perMs)} burst ${l.burst} (${l.policy})`;
}

function authRule(r: AuthorizationRule): string {
  const parts: string[] = [];
  parts.push(r.from ? `from ${r.from.map((f) => shortService(`${f.namespace}/${f.service}`)).join(' | ')}` : 'from anyone');
  if (r.to) {
    parts.push(
      `to ${r.to
        .map((t) => [t.methods ? t.methods.join(',') : 'any method', t.paths ? t.paths.join(',') : 'any path'].join(' '))
        .join(' | ')}`,
    );
  }
  if (r.when) parts.push(`when ${r.when.map((w) => `${w.header} in [${w.values.join(',')}]`).join(' and ')}`);
  return parts.join(' ');
}

/** describeAuthorization renders an AuthorizationPolicy's rules, `; `-separated, in order. */
export function describeAuthorization(p: AuthorizationPolicyEntry): string {
  return p.rules.length === 0 ? 'no rules' : p.rules.map(authRule).join('; ');
}
