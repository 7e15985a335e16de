/**
 * explainRequest turns a Simulation into a plain-data report for `weft explain`: which Service,
 * route (file:line), rule and match were chosen and why (the precedence step that beat every
 * other match that also matched), what was tried before and why it failed, the backends with
 * their shares, the filters and the request as each backend receives it, and the receiving
 * side's authorization and rate-limit decisions. JSON-safe: no router internals leak into it.
 */
import type { Bundle } from '../../schemas/bundle.js';
import { describeBackends, describeMatch, describeRateLimit, describeRetry, describeTimeouts, formatMs, formatPercent, shortService } from '../../compiler/diff/describe.js';
import { describeDenial } from '../policy/authorization.js';
import type { MismatchReason } from '../router/index.js';
import { simulate, type FilterStep, type RateLimitReport, type SimulatedRequest } from './simulate.js';
import type { Router } from '../router/index.js';
import { SOURCE_HEADER } from '../proxy/caller-identity.js';

/** MatchReport names one RouteMatch and where it is written. */
export interface MatchReport {
  id: string;
  rule: string;
  match: string;
  source: string | null;
}

/** BranchReport is one backend the rule may choose, and what happens there. */
export interface BranchReport {
  backend: string;
  port: number;
  share: number;
  filters: FilterStep[];
  request: { method: string; authority: string; path: string; headers: Record<string, string> };
  authorization: { allowed: boolean; decision: string };
  rateLimits: RateLimitReport;
  /** null: delivered to the app. */
  status: number | null;
  reason: string;
}

/** ExplainReport is the whole explanation; `--format json` prints it as is. */
export interface ExplainReport {
  request: { method: string; url: string; host: string; target: string; from: string | null };
  /** `namespace/name`, or null when no Service answers to the host. */
  service: string | null;
  /** Which table answered: `all callers` (producer), `callers in NS` (consumer), or `no routes`. */
  table: string | null;
  /** Matches tried before the chosen one (all of them when none matched), with why each failed. */
  notMatched: (MatchReport & { reason: string })[];
  chosen: (MatchReport & { route: string; routeSource: string | null }) | null;
  /** Matches that also matched but come later in precedence, with the step that decided. */
  beaten: (MatchReport & { decidedBy: string })[];
  rule: { id: string; backends: string; timeouts: string; retry: string; rateLimits: string[] } | null;
  filters: FilterStep[];
  partialFaults: string[];
  outboundRateLimits: RateLimitReport | null;
  outcome: { kind: 'local'; status: number; reason: string; location: string | null } | { kind: 'forwarded'; branches: BranchReport[] };
}

function reasonText(r: MismatchReason): string {
  switch (r.on) {
    case 'header':
      return `header ${r.name}: ${r.detail}`;
    case 'queryParam':
      return `query parameter ${r.name}: ${r.detail}`;
    default:
      return `${r.on}: ${r.detail}`;
  }
}

function where(bundle: Bundle, ...ids: string[]): string | null {
  for (const id of ids) {
    const s = bundle.sources[id];
    if (s) return `${s.file}:${s.line}`;
  }
  return null;
}

/** explainRequest simulates `req` against `router` (built from `bundle`) and reports the story. */
export function explainRequest(bundle: Bundle, router: Router, req: SimulatedRequest): ExplainReport {
  const sim = simulate(router, req);
  const ex = sim.explanation;
  const decision = ex?.decision ?? null;
  const service = decision?.kind === 'routed' ? decision.service : decision?.service ?? null;
  const table = ex?.tableKind === 'consumer' ? `callers in ${sim.caller?.namespace ?? ''}` : ex?.tableKind === 'producer' ? 'all callers' : ex?.tableKind === 'none' ? 'no routes' : null;
  const matchById = new Map<string, { id: string; text: string }>();
  if (service) {
    const tables = [service.producer, ...service.consumers.values()];
    for (const t of tables) for (const m of t?.matches ?? []) matchById.set(m.source.id, { id: m.source.id, text: describeMatch(m.source) });
  }
  const report = (id: string, rule: string): MatchReport => ({ id, rule, match: matchById.get(id)?.text ?? '', source: where(bundle, id, rule) });
  const notMatched = (ex?.considered ?? []).filter((c) => !c.matched && c.failed).map((c) => ({ ...report(c.id, c.rule), reason: c.failed ? reasonText(c.failed) : '' }));
  let chosen: ExplainReport['chosen'] = null;
  if (decision?.kind === 'routed') {
    const r = decision.rule;
    const kind = r.route.kind ?? 'HTTPRoute';
    const route = r.route.name === '' ? '(no routes: the Service\'s own endpoints)' : `${kind === 'GRPCRoute' ? 'GRPCRoute ' : ''}${r.route.namespace}/${r.route.name}`;
    chosen = decision.match
      ? { ...report(decision.match.source.id, r.id), route, routeSource: where(bundle, `${kind}/${r.route.namespace}/${r.route.name}`) }
      : { id: r.id, rule: r.id, match: 'prefix /', source: where(bundle, `Service/${service?.entry.namespace ?? ''}/${service?.entry.name ?? ''}`), route, routeSource: null };
  }
  const rule = sim.rule
    ? { id: sim.rule.id, backends: describeBackends(sim.rule), timeouts: describeTimeouts(sim.rule.timeouts), retry: describeRetry(sim.rule.retry), rateLimits: sim.rule.rateLimits.map(describeRateLimit) }
    : null;
  const outcome: ExplainReport['outcome'] =
    sim.outcome.kind === 'local'
      ? sim.outcome
      : {
          kind: 'forwarded',
          branches: sim.outcome.branches.map((b) => ({
            backend: b.backend,
            port: b.port,
            share: b.share,
            filters: b.steps,
            request: b.request,
            // A path the inbound proxy refuses (400) never reaches authorization.
            authorization: b.status === 400 ? { allowed: false, decision: 'not evaluated: the path is refused first' } : { allowed: b.authorization.allowed, decision: describeDenial(b.authorization) },
            rateLimits: b.rateLimits,
            status: b.status,
            reason: b.reason,
          })),
        };
  return {
    request: { method: sim.method, url: req.url, host: sim.host, target: sim.target, from: req.from },
    service: service?.entry.id ?? null,
    table,
    notMatched,
    chosen,
    beaten: sim.runnersUp.map((r) => ({ ...report(r.match, r.rule), decidedBy: r.decidedBy })),
    rule,
    filters: sim.steps,
    partialFaults: sim.partialFaults,
    outboundRateLimits: sim.outboundRateLimits,
    outcome,
  };
}

function limitLines(r: RateLimitReport | null, indent: string): string[] {
  if (!r || (r.applying.length === 0 && r.notApplying.length === 0)) return [`${indent}none`];
  const out: string[] = [];
  for (const l of r.applying) out.push(`${indent}${l.policy} ${l.key}=${l.keyValue}: ${l.requests} per ${formatMs(l.perMs)}, burst ${l.burst}`);
  for (const l of r.notApplying) out.push(`${indent}${l.policy} ${l.key}: does not apply (${l.why})`);
  if (r.admittedAtOnce !== null) out.push(`${indent}→ ${r.admittedAtOnce} identical requests at one instant pass; the next gets 429 (${r.refusedBy ?? ''})`);
  return out;
}

/** formatExplainText renders a report for a terminal. */
export function formatExplainText(r: ExplainReport): string {
  const out: string[] = [];
  out.push(`request:  ${r.request.method} ${r.request.url}${r.request.from ? ` from ${shortService(r.request.from)}` : ' (caller outside the mesh)'}`);
  const outOfScope = r.outcome.kind === 'local' && /outside the egress scope/.test(r.outcome.reason);
  const none = outOfScope ? `none in the caller's egress scope answers to host "${r.request.host}"` : `none: no mesh Service answers to host "${r.request.host}"`;
  out.push(`service:  ${r.service ?? none}${r.table ? ` (routes for ${r.table})` : ''}`);
  if (r.chosen) {
    out.push(`route:    ${r.chosen.route}${r.chosen.routeSource ? ` (${r.chosen.routeSource})` : ''}`);
    out.push(`match:    ${r.chosen.id} ${r.chosen.match}${r.chosen.source ? ` (${r.chosen.source})` : ''}`);
  } else if (r.service) {
    out.push('match:    none: the Service has routes and none matches, so the request gets 404');
  }
  if (r.notMatched.length) {
    out.push(r.chosen ? 'tried first, did not match:' : 'considered, did not match:');
    for (const m of r.notMatched) out.push(`  ${m.id} ${m.match}${m.source ? ` (${m.source})` : ''}: ${m.reason}`);
  }
  if (r.beaten.length) {
    out.push('also matched, lower precedence:');
    for (const m of r.beaten) out.push(`  ${m.id} ${m.match}${m.source ? ` (${m.source})` : ''}: lost on ${m.decidedBy}`);
  } else if (r.chosen) {
    out.push('why:      the only match that matches');
  }
  if (r.rule) {
    out.push(`rule:     ${r.rule.id}: ${r.rule.backends}`);
    out.push(`          timeouts ${r.rule.timeouts}; retry ${r.rule.retry}`);
  }
  if (r.filters.length) {
    out.push('filters:');
    for (const f of r.filters) out.push(`  ${f.filter}: ${f.effect}`);
  }
  for (const p of r.partialFaults) out.push(`fault:    ${p} (not drawn here)`);
  if (r.rule && r.outcome.kind === 'forwarded') {
    out.push('rate limits (caller side, on the route):');
    out.push(...limitLines(r.outboundRateLimits, '  '));
  }
  if (r.outcome.kind === 'local') {
    out.push(`result:   ${r.outcome.status}${r.outcome.location ? ` Location: ${r.outcome.location}` : ''}: ${r.outcome.reason}`);
  } else {
    for (const b of r.outcome.branches) {
      out.push(`backend:  ${shortService(b.backend)}:${b.port} (${formatPercent(b.share)})`);
      for (const f of b.filters) out.push(`  filter ${f.filter}: ${f.effect}`);
      out.push(`  receives: ${b.request.method} ${b.request.path} Host: ${b.request.authority}`);
      for (const [k, v] of Object.entries(b.request.headers)) {
        out.push(`            ${k}: ${v}`);
        // The callee's proxy decides what the app learns of the caller (steps/caller-identity.ts),
        // and whether the mesh runs mTLS is not in the policies: say both.
        if (k === SOURCE_HEADER && typeof v === 'string') out.push(`              (without mTLS; with it the app gets x-forwarded-client-cert: By=…;Hash=…;URI=spiffe://TRUST_DOMAIN/ns/${sourceNamespace(v)}/sa/${sourceName(v)} instead)`);
      }
      out.push(`  authorization: ${b.authorization.decision}`);
      out.push('  rate limits:');
      out.push(...limitLines(b.rateLimits, '    '));
      out.push(`  result: ${b.status === null ? 'delivered to the app' : `${b.status}: ${b.reason}`}`);
    }
  }
  return out.join('\n') + '\n';
}

/** sourceName and sourceNamespace split a `weft-source` value, `name.namespace`. */
function sourceName(v: string): string {
  return v.slice(0, v.lastIndexOf('.'));
}
function sourceNamespace(v: string): string {
  return v.slice(v.lastIndexOf('.') + 1);
}
