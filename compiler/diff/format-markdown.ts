/**
 * formatDiffMarkdown renders a BundleDiff as one GitHub PR comment / job summary. GitHub caps a
 * comment at 65,536 characters, so output stays under `maxBytes` (60 KB by default): blocks
 * (one per Service, one per diagnostic) are added whole while they fit, and whatever is left is
 * summarised with counts. The first line is a hidden marker the sticky-comment workflow looks
 * for, so it updates its one comment instead of adding another.
 */
import type { BundleDiff, MatchChange, ServiceChange } from './diff.js';
import { countChanges } from './diff.js';
import { shortService } from './describe.js';
import { sideLabel, slicesLine, summaryLine } from './format-text.js';

/** MARKDOWN_MARKER starts every markdown diff; docs/examples/…/weft-comment.yml searches for it. */
export const MARKDOWN_MARKER = '<!-- weft-diff -->';

/** DEFAULT_MAX_BYTES leaves room under GitHub's 65,536-character comment limit. */
export const DEFAULT_MAX_BYTES = 60_000;

/** code renders `s` as inline code that survives any backticks or newlines inside it. */
export function code(s: string): string {
  const flat = s.replace(/\r?\n|\r/g, ' ');
  const longest = Math.max(0, ...[...flat.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  const pad = flat.startsWith('`') || flat.endsWith('`') || flat === '' ? ' ' : '';
  return `${fence}${pad}${flat}${pad}${fence}`;
}

/** escapeMarkdown makes user text inert: no HTML, links, emphasis, table breaks or @mentions. */
export function escapeMarkdown(s: string): string {
  return s
    .replace(/\r?\n|\r/g, ' ')
    .replace(/[\\`*_{}[\]()#+!|~>]/g, (c) => `\\${c}`)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    // A PR comment must not ping anyone: `@name` gets a zero-width joiner after the @.
    .replace(/@(?=[A-Za-z0-9])/g, '@&#8203;');
}

function matchBlock(m: MatchChange): string[] {
  const id = `${code(m.route)} ${code(m.match)}`;
  if (m.change === 'added') {
    const v = m.after;
    const out = [`- ➕ ${id}: ${code(v?.backends ?? '')}`];
    if (v?.filters.length) out.push(`  - filters: ${v.filters.map(code).join(', ')}`);
    if (v?.rateLimits.length) out.push(`  - rate limits: ${v.rateLimits.map(code).join(', ')}`);
    if (v?.source) out.push(`  - at ${code(v.source)}`);
    return out;
  }
  if (m.change === 'removed') return [`- ➖ ${id}: ${code(m.before?.backends ?? '')}`];
  const backends = m.fields.find((f) => f.field === 'backends');
  const out = [backends ? `- ✏️ ${id}: ${code(backends.before ?? '')} → ${code(backends.after ?? '')}` : `- ✏️ ${id}`];
  for (const f of m.fields) if (f !== backends) out.push(`  - ${f.field}: ${code(f.before ?? '(none)')} → ${code(f.after ?? '(none)')}`);
  if (m.after?.source) out.push(`  - at ${code(m.after.source)}`);
  return out;
}

function serviceBlock(s: ServiceChange): string[] {
  const out = ['', `#### ✏️ Service ${code(shortService(s.id))}`];
  for (const t of s.routing) {
    out.push(`Routes for ${escapeMarkdown(t.audience)}:`, '');
    for (const m of t.matches) out.push(...matchBlock(m));
    if (t.reordered.length) out.push(`- ↕️ precedence changed for ${t.reordered.map(code).join(', ')}`);
    out.push('');
  }
  const misc: string[] = [];
  for (const e of s.endpoints.added) misc.push(`- ➕ endpoint ${code(e)}`);
  for (const e of s.endpoints.removed) misc.push(`- ➖ endpoint ${code(e)}`);
  for (const f of s.ports) misc.push(`- port ${code(f.field)}: ${code(f.before ?? '(none)')} → ${code(f.after ?? '(none)')}`);
  for (const f of s.backendPolicy) misc.push(`- backend policy ${code(f.field)}: ${code(f.before ?? '(none)')} → ${code(f.after ?? '(none)')}`);
  for (const p of [...s.authorization.map((x) => ['authorization', x] as const), ...s.rateLimits.map((x) => ['rate limit', x] as const)]) {
    const [what, c] = p;
    const icon = c.change === 'added' ? '➕' : c.change === 'removed' ? '➖' : '✏️';
    const text = c.change === 'changed' ? `${code(c.before ?? '')} → ${code(c.after ?? '')}` : code(c.after ?? c.before ?? '');
    misc.push(`- ${icon} ${what} ${code(c.policy)}: ${text}`);
  }
  if (misc.length) out.push(...misc);
  return out;
}

/** formatDiffMarkdown renders the report in at most `maxBytes` UTF-8 bytes. */
export function formatDiffMarkdown(d: BundleDiff, opts: { maxBytes?: number } = {}): string {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  const c = countChanges(d);
  const head: string[] = [
    MARKDOWN_MARKER,
    '### Weft: what this change does to traffic',
    '',
    `${code(sideLabel(d.base))} → ${code(sideLabel(d.head))}: ${escapeMarkdown(summaryLine(d))}`,
    '',
  ];
  for (const [label, s] of [
    ['Base', d.base],
    ['Head', d.head],
  ] as const) {
    if (s.missing) head.push(`> ${label}: the directory does not exist at ${code(sideLabel(s))}; compared with an empty mesh.`, '');
    else if (s.digest === null) head.push(`> ❌ ${label} does not compile (${s.errors} ${s.errors === 1 ? 'error' : 'errors'}): no traffic comparison.`, '');
  }
  if (d.sameDigest) head.push(`Same bundle digest ${code(d.head.digest ?? '')}: proxies will not reload.`, '');
  else if (d.slicesTouched && d.slicesTouched.length > 0) head.push(`${slicesLine(d.slicesTouched).replace(/^slices touched/, 'Slices touched')}.`, '');

  // Blocks are added whole, in order, while they fit; each knows what it would have counted.
  interface Block {
    lines: string[];
    services: number;
    matches: number;
    diagnostics: number;
  }
  const blocks: Block[] = [];
  const t = d.traffic;
  if (t) {
    if (t.mesh.length) {
      blocks.push({ lines: ['', '#### ✏️ Mesh settings', ...t.mesh.map((f) => `- ${code(f.field)}: ${code(f.before ?? '(none)')} → ${code(f.after ?? '(none)')}`)], services: 0, matches: 0, diagnostics: 0 });
    }
    for (const s of t.servicesAdded) {
      blocks.push({ lines: ['', `#### ➕ Service ${code(shortService(s.id))} (${s.endpoints} endpoints)`, ...s.routes.map((r) => `- ${code(r)}`)], services: 1, matches: 0, diagnostics: 0 });
    }
    for (const s of t.servicesRemoved) blocks.push({ lines: ['', `#### ➖ Service ${code(shortService(s.id))}`], services: 1, matches: 0, diagnostics: 0 });
    for (const s of t.servicesChanged) {
      blocks.push({ lines: serviceBlock(s), services: 1, matches: s.routing.reduce((n, r) => n + r.matches.length, 0), diagnostics: 0 });
    }
  }
  if (d.newDiagnostics.length) {
    blocks.push({ lines: ['', `#### New diagnostics in ${code(sideLabel(d.head))}`], services: 0, matches: 0, diagnostics: 0 });
    for (const x of d.newDiagnostics) {
      const icon = x.severity === 'error' ? '❌' : x.severity === 'warning' ? '⚠️' : 'ℹ️';
      const where = x.file ? `${code(`${x.file}:${x.line}:${x.column}`)} ` : '';
      blocks.push({ lines: [`- ${icon} ${where}**${escapeMarkdown(x.code)}** ${escapeMarkdown(x.message)}`], services: 0, matches: 0, diagnostics: 1 });
    }
  }
  if (d.resolvedDiagnostics) blocks.push({ lines: ['', `${d.resolvedDiagnostics} diagnostics of the base are resolved.`], services: 0, matches: 0, diagnostics: 0 });

  const footer = ['', `<sub>weft diff · ${c.total === 0 ? 'no traffic changes' : `${c.total} ${c.total === 1 ? 'change' : 'changes'}`} · base ${code(d.base.digest ?? 'none')} · head ${code(d.head.digest ?? 'none')}</sub>`];
  const bytes = (lines: string[]) => Buffer.byteLength(lines.join('\n') + '\n', 'utf8');
  // Room for the "not shown" line, which is short and bounded.
  const reserve = bytes(footer) + 400;
  const out = [...head];
  let used = bytes(out);
  let i = 0;
  for (; i < blocks.length; i++) {
    const b = blocks[i]!;
    const size = bytes(b.lines);
    if (used + size + reserve > maxBytes) break;
    out.push(...b.lines);
    used += size;
  }
  if (i < blocks.length) {
    const rest = blocks.slice(i);
    const sum = (k: 'services' | 'matches' | 'diagnostics') => rest.reduce((n, b) => n + b[k], 0);
    out.push(
      '',
      `> … not shown, to stay under GitHub's comment size limit: ${sum('services')} services (${sum('matches')} match changes) and ${sum('diagnostics')} diagnostics. The full report is in the workflow artifact (\`weft diff --format json\`).`,
    );
  }
  out.push(...footer);
  return out.join('\n') + '\n';
}
