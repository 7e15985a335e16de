/**
 * formatDiffText renders a BundleDiff for a terminal or a log: one line per change, indented by
 * Service, ending with a one-line count. Plain text, no colour (diffs are mostly read in CI logs).
 */
import { text } from '../format/text.js';
import { countChanges, type BundleDiff, type DiffSide, type FieldChange, type MatchChange, type PolicyChange, type ServiceChange } from './diff.js';
import { shortService } from './describe.js';

/** sideLabel names one side: `main (1a2b3c4)`, `working tree`. */
export function sideLabel(s: DiffSide): string {
  const name = s.ref ?? 'working tree';
  return s.commit && s.ref !== s.commit ? `${name} (${s.commit.slice(0, 7)})` : name;
}

/** arrow renders `before → after`, with `(none)` for an absent side. */
export function arrow(before: string | null, after: string | null): string {
  return `${before ?? '(none)'} → ${after ?? '(none)'}`;
}

/** matchLines renders one match change as a head line and indented field lines. */
export function matchLines(m: MatchChange): { head: string; details: string[] } {
  const id = `${m.route} ${m.match}`;
  if (m.change === 'added') return { head: `+ ${id}: ${m.after?.backends ?? ''}`, details: viewDetails(m.after) };
  if (m.change === 'removed') return { head: `- ${id}: ${m.before?.backends ?? ''}`, details: [] };
  const backends = m.fields.find((f) => f.field === 'backends');
  const head = backends ? `~ ${id}: ${arrow(backends.before, backends.after)}` : `~ ${id}`;
  return { head, details: m.fields.filter((f) => f.field !== 'backends').map((f) => `${f.field}: ${arrow(f.before, f.after)}`) };
}

function viewDetails(v: MatchChange['after']): string[] {
  if (!v) return [];
  const out: string[] = [];
  if (v.filters.length) out.push(`filters: ${v.filters.join('; ')}`);
  if (v.rateLimits.length) out.push(`rate limits: ${v.rateLimits.join('; ')}`);
  if (v.source) out.push(`at ${v.source}`);
  return out;
}

function policyLine(p: PolicyChange): string {
  const sign = p.change === 'added' ? '+' : p.change === 'removed' ? '-' : '~';
  if (p.change === 'added') return `${sign} ${p.policy}: ${p.after ?? ''}`;
  if (p.change === 'removed') return `${sign} ${p.policy}: ${p.before ?? ''}`;
  return `${sign} ${p.policy}: ${arrow(p.before, p.after)}`;
}

function fieldLine(f: FieldChange): string {
  return `~ ${f.field}: ${arrow(f.before, f.after)}`;
}

/** serviceLines renders everything that changed about one Service, indented under its name. */
export function serviceLines(s: ServiceChange): string[] {
  const out = [`~ service ${shortService(s.id)}`];
  for (const t of s.routing) {
    out.push(`    routes for ${t.audience}:`);
    for (const m of t.matches) {
      const { head, details } = matchLines(m);
      out.push(`      ${head}`);
      for (const d of details) out.push(`          ${d}`);
    }
    if (t.reordered.length) out.push(`      precedence changed for: ${t.reordered.join('; ')}`);
  }
  if (s.endpoints.added.length || s.endpoints.removed.length) {
    out.push(`    endpoints: ${[...s.endpoints.added.map((e) => `+ ${e}`), ...s.endpoints.removed.map((e) => `- ${e}`)].join(', ')}`);
  }
  for (const f of s.ports) out.push(`    port ${fieldLine(f)}`);
  for (const f of s.backendPolicy) out.push(`    backend policy ${fieldLine(f)}`);
  for (const p of s.authorization) out.push(`    authorization ${policyLine(p)}`);
  for (const p of s.rateLimits) out.push(`    rate limit ${policyLine(p)}`);
  return out;
}

/** summaryLine is the last line of every text diff. */
export function summaryLine(d: BundleDiff): string {
  const c = countChanges(d);
  if (c.total === 0) return 'no traffic changes';
  const diags = `${c.newDiagnostics} new ${c.newDiagnostics === 1 ? 'diagnostic' : 'diagnostics'}`;
  if (d.traffic === null) return `no traffic comparison (${d.head.digest === null ? 'head' : 'base'} does not compile); ${diags}`;
  const parts = [
    `${c.servicesChanged} ${c.servicesChanged === 1 ? 'service' : 'services'} changed`,
    `${c.servicesAdded} added`,
    `${c.servicesRemoved} removed`,
    `matches: ${c.matchesAdded} added, ${c.matchesRemoved} removed, ${c.matchesChanged} changed`,
  ];
  if (c.mesh) parts.push(`${c.mesh} mesh ${c.mesh === 1 ? 'setting' : 'settings'}`);
  parts.push(diags);
  return parts.join('; ');
}

/** formatDiffText renders the whole report; ends with a newline. */
export function formatDiffText(d: BundleDiff): string {
  const out: string[] = [`weft diff: ${sideLabel(d.base)} → ${sideLabel(d.head)}`];
  for (const [label, s] of [
    ['base', d.base],
    ['head', d.head],
  ] as const) {
    if (s.missing) out.push(`${label}: the directory does not exist at ${sideLabel(s)}; compared with an empty mesh`);
    else if (s.digest === null) out.push(`${label} does not compile (${s.errors} ${s.errors === 1 ? 'error' : 'errors'}): no traffic comparison`);
  }
  if (d.sameDigest) out.push(`same bundle digest ${d.head.digest ?? ''}: nothing changes for traffic`);
  const t = d.traffic;
  if (t) {
    if (t.mesh.length) {
      out.push('~ mesh');
      for (const f of t.mesh) out.push(`    ${fieldLine(f)}`);
    }
    for (const s of t.servicesAdded) {
      out.push(`+ service ${shortService(s.id)} (${s.endpoints} ${s.endpoints === 1 ? 'endpoint' : 'endpoints'})`);
      for (const r of s.routes) out.push(`    ${r}`);
    }
    for (const s of t.servicesRemoved) out.push(`- service ${shortService(s.id)}`);
    for (const s of t.servicesChanged) out.push(...serviceLines(s));
  }
  if (d.newDiagnostics.length) {
    out.push(`new diagnostics in ${sideLabel(d.head)}:`);
    // The project's text formatter, indented under the heading (its summary line included).
    out.push(...text.format(d.newDiagnostics).trimEnd().split('\n').map((l) => (l === '' ? '' : `  ${l}`)));
  }
  if (d.resolvedDiagnostics) out.push(`${d.resolvedDiagnostics} ${d.resolvedDiagnostics === 1 ? 'diagnostic' : 'diagnostics'} of ${sideLabel(d.base)} resolved`);
  if (d.slicesTouched && d.slicesTouched.length > 0) out.push(slicesLine(d.slicesTouched));
  out.push(summaryLine(d));
  return out.join('\n') + '\n';
}

/** slicesLine names the Services whose proxies reload (their slice changes), the first 20 of them. */
export function slicesLine(ids: readonly string[]): string {
  const shown = ids.slice(0, 20).map(shortService).join(', ');
  return `slices touched (these Services' proxies reload): ${ids.length}: ${shown}${ids.length > 20 ? `, … ${ids.length - 20} more` : ''}`;
}
