/**
 * The terminal view of `weft up`: on a TTY, a compact block redrawn in place every second;
 * otherwise (logs, CI, tests) one plain line every few seconds. Rendering is pure (state in,
 * text out) so it is testable without a terminal.
 */
import type { TrafficSummary } from './traffic.js';
import type { ControllerView, ProxyView } from './mesh-watch.js';
import { REVIEWS_BACKENDS } from './topology.js';

/** ViewState is everything one frame shows. */
export interface ViewState {
  traffic: TrafficSummary;
  proxies: readonly ProxyView[];
  controller: ControllerView;
  lastError: string | null;
}

/** shortDigest is `sha256:` and the first 12 hex digits: enough to tell bundles apart at a glance. */
export function shortDigest(d: string | null): string {
  if (!d) return '(none)';
  return d.replace(/^(sha256:[0-9a-f]{12})[0-9a-f]*$/, '$1');
}

/**
 * convergence says whether every proxy is on what the controller serves it: the current digest,
 * or (slices: each Service gets its own bundle) a digest the controller counts as current.
 */
export function convergence(state: Pick<ViewState, 'proxies' | 'controller'>): { converged: boolean; onCurrent: number; total: number } {
  const target = state.controller.digest;
  const served = state.controller.currentDigests;
  const onCurrent = state.proxies.filter((p) => p.digest !== null && (p.digest === target || (served?.has(p.digest) ?? false))).length;
  return { converged: target !== null && onCurrent === state.proxies.length, onCurrent, total: state.proxies.length };
}

/**
 * backendRows are the rows of the split: the three reviews versions always, then any other
 * instance that answered (`reviews-v2#2`, started by `weft up --instance reviews-v2`), sorted.
 */
export function backendRows(t: TrafficSummary): string[] {
  const fixed: readonly string[] = REVIEWS_BACKENDS;
  return [...fixed, ...Object.keys(t.backends).filter((b) => !fixed.includes(b)).sort()];
}

function bar(share: number, width: number): string {
  const full = Math.round(share * width);
  return '█'.repeat(full) + '░'.repeat(width - full);
}

function pct(x: number): string {
  return `${(x * 100).toFixed(x > 0 && x < 0.1 ? 1 : 0)}%`;
}

interface Paint {
  red(s: string): string;
  green(s: string): string;
  dim(s: string): string;
}

const plainPaint: Paint = { red: (s) => s, green: (s) => s, dim: (s) => s };
const ansiPaint: Paint = {
  red: (s) => `\x1b[31m${s}\x1b[0m`,
  green: (s) => `\x1b[32m${s}\x1b[0m`,
  dim: (s) => `\x1b[2m${s}\x1b[0m`,
};

/** renderBlock is the TTY frame: a few lines, fixed layout. */
export function renderBlock(state: ViewState, color = true): string[] {
  const paint = color ? ansiPaint : plainPaint;
  const t = state.traffic;
  const lines: string[] = [];
  const errs = t.errors > 0 ? paint.red(`${pct(t.errorRate)} (${t.errors})`) : paint.green('0%');
  lines.push(`traffic     ${t.rate.toFixed(1)} req/s to productpage   errors ${errs}   ${paint.dim(`(last ${t.seconds}s)`)}`);
  for (const b of backendRows(t)) {
    const share = t.shares[b] ?? 0;
    const rate = t.seconds > 0 ? (t.backends[b] ?? 0) / t.seconds : 0;
    lines.push(`${b.padEnd(11)} ${bar(share, 30)} ${pct(share).padStart(5)}  ${rate.toFixed(1).padStart(5)} req/s`);
  }
  const c = convergence(state);
  if (c.converged) {
    lines.push(`proxies     ${c.total}/${c.total} on ${shortDigest(state.controller.digest)}  ${paint.green('converged')}`);
  } else {
    const others = state.proxies
      .filter((p) => p.digest !== state.controller.digest && !(p.digest !== null && (state.controller.currentDigests?.has(p.digest) ?? false)))
      .map((p) => `${p.name} ${p.up ? shortDigest(p.digest) : 'down'}`)
      .join(', ');
    lines.push(`proxies     ${c.onCurrent}/${c.total} on ${shortDigest(state.controller.digest)}  ${paint.dim(`converging: ${others}`)}`);
  }
  lines.push(`commit      ${commitLine(state.controller, paint)}`);
  if (state.lastError && t.errors > 0) lines.push(`last error  ${paint.red(state.lastError.slice(0, 110))}`);
  return lines;
}

function commitLine(c: ControllerView, paint: Paint): string {
  if (!c.up) return paint.red('controller not answering');
  const lc = c.lastCompile;
  if (!lc) return paint.dim('compiling ...');
  const head = `${lc.commit.slice(0, 7)} "${lc.message.slice(0, 40)}"`;
  if (lc.ok) return `${head}  ${paint.green('compiled')}`;
  return `${head}  ${paint.red(`REJECTED ${lc.firstError ?? ''}`.slice(0, 100))}  ${paint.dim(`(still serving ${shortDigest(c.digest)})`)}`;
}

/** renderLine is the plain, one-line form for logs and pipes. */
export function renderLine(state: ViewState, now = new Date()): string {
  const t = state.traffic;
  const split = backendRows(t).map((b) => `${b}=${pct(t.shares[b] ?? 0)}`).join(' ');
  const c = convergence(state);
  const lc = state.controller.lastCompile;
  const commit = lc ? `commit=${lc.commit.slice(0, 7)} ${lc.ok ? 'ok' : `rejected(${lc.firstError ?? ''})`}` : 'commit=?';
  return `${now.toISOString()} rps=${t.rate.toFixed(1)} errors=${t.errors} ${split} digest=${shortDigest(state.controller.digest)} proxies=${c.onCurrent}/${c.total}${c.converged ? ' converged' : ''} ${commit}`;
}

/** TtyView redraws the block in place (cursor up, clear to end) each frame. */
export class TtyView {
  private drawn = 0;
  constructor(private readonly out: NodeJS.WriteStream) {}

  /** draw replaces the previous frame with `lines`. */
  draw(lines: string[]): void {
    const width = this.out.columns || 100;
    const clipped = lines.map((l) => (visibleLength(l) > width - 1 ? l.replace(ANSI, '').slice(0, width - 1) : l));
    let s = this.drawn > 0 ? `\x1b[${this.drawn}F\x1b[J` : '';
    s += clipped.join('\n') + '\n';
    this.out.write(s);
    this.drawn = clipped.length;
  }

  /** print writes a line above the block (an event), keeping the block below it. */
  print(line: string): void {
    if (this.drawn > 0) this.out.write(`\x1b[${this.drawn}F\x1b[J`);
    this.drawn = 0;
    this.out.write(line + '\n');
  }
}

// Built from a string so the control character does not sit in a regex literal.
const ANSI = new RegExp(String.fromCharCode(27) + '\\[[0-9;]*m', 'g');

function visibleLength(s: string): number {
  return s.replace(ANSI, '').length;
}
