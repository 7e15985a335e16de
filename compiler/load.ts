/**
 * load: the first pass. Finds the policy files of a directory, or of that directory's path inside
 * its git repository at a revision, and reads them. Reading from git never checks anything out
 * and never touches the working tree or the index: it uses `rev-parse`, `ls-tree` and `show` of
 * blob objects only; with a memo (a long-lived compiler), `cat-file --batch` reads of commits,
 * trees and blobs instead (loadFromGitIncremental).
 */
import { closeSync, constants as fsConstants, fstatSync, openSync, readSync, readdirSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { simpleGit } from 'simple-git';
import { report } from './diagnostics.js';
import type { CompileOptions, LoadedTree, PassContext, SourceFile } from './types.js';
import type { CompileMemo, FolderListing } from './memo.js';
import { parseTree, type GitObjectReader } from './git-objects.js';

/** DEFAULT_MAX_FILE_BYTES is the size limit of one policy file when the caller sets none: 1 MiB. */
export const DEFAULT_MAX_FILE_BYTES = 1024 * 1024;

const POLICY_FILE = /\.(ya?ml|cue)$/;
// Blobs are read in batches with one `git show` each: one process per file would make a
// 10,000-file revision take minutes, and argv stays well under every OS limit at this size.
const BLOBS_PER_BATCH = 400;
const BYTES_PER_BATCH = 32 * 1024 * 1024;

/** isPolicyFile is true for the names the compiler reads: *.yaml, *.yml, *.cue. */
export function isPolicyFile(name: string): boolean {
  return POLICY_FILE.test(name);
}

/** skipDir is true for folders never searched: dot-folders (.git, .github) and node_modules. */
function skipDir(name: string): boolean {
  return name.startsWith('.') || name === 'node_modules';
}

/**
 * load returns the policy files, sorted by path (code-unit order, so the same tree gives the same
 * order on every machine). Files over the size limit come back with `text: null` and a WFT101;
 * they are never read into memory. User mistakes (missing folder, bad revision, no files) are
 * diagnostics, never exceptions. With `rev`, sets ctx.revision.
 */
export async function load(options: CompileOptions, ctx: PassContext): Promise<LoadedTree> {
  const maxBytes = options.maxFileBytes !== undefined && options.maxFileBytes > 0 ? options.maxFileBytes : DEFAULT_MAX_FILE_BYTES;
  const files = options.rev !== undefined ? await loadFromGit(options.dir, options.rev, maxBytes, ctx) : await loadFromDisk(options.dir, maxBytes, ctx);
  if (files === null) return { files: [] };
  // git lists a tree nearly in this order already; checking is cheaper than sorting 10,000 paths.
  if (!files.every((f, i) => i === 0 || (files[i - 1] as SourceFile).path < f.path)) files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  if (files.length === 0) report(ctx, 'WFT104', `no *.yaml, *.yml or *.cue files in ${describe(options)}`, null);
  return { files };
}

function describe(options: CompileOptions): string {
  return options.rev !== undefined ? `${options.dir} at ${options.rev}` : options.dir;
}

const FILE_START = { line: 1, column: 1, endLine: 1, endColumn: 1 };

function tooLarge(ctx: PassContext, file: string, size: number, max: number): SourceFile {
  report(ctx, 'WFT101', `${file} is ${size} bytes, over the ${max}-byte limit; it was not read`, { file, span: FILE_START }, { hint: 'raise the limit with --max-file-size BYTES if the size is intended' });
  return { path: file, size, text: null };
}

/** UTF8 decodes whole texts (no `stream`), so one instance serves every file. */
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** decode turns file bytes into text; invalid UTF-8 is a WFT201 (YAML and CUE are UTF-8 only). */
function decode(ctx: PassContext, file: string, bytes: Uint8Array): SourceFile {
  try {
    let text = UTF8.decode(bytes);
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    return { path: file, size: bytes.byteLength, text };
  } catch {
    report(ctx, 'WFT201', `${file} is not valid UTF-8 text`, { file, span: FILE_START }, { hint: 'save the file as UTF-8' });
    return { path: file, size: bytes.byteLength, text: null };
  }
}

// ---- from disk --------------------------------------------------------------------------

// The folder is read with synchronous calls: a compile is CPU-bound and runs its parse and later
// passes synchronously anyway, and one promise plus a thread-pool round trip per open, stat, read
// and close cost more CPU than reading the bytes (measured: 1.2 s of a 10,000-file cold compile,
// against about 0.3 s read synchronously).

async function loadFromDisk(dir: string, maxBytes: number, ctx: PassContext): Promise<SourceFile[] | null> {
  let st;
  try {
    st = statSync(dir);
  } catch {
    report(ctx, 'WFT102', `directory ${dir} does not exist or cannot be read`, null);
    return null;
  }
  if (!st.isDirectory()) {
    report(ctx, 'WFT102', `${dir} is not a directory`, null, { hint: 'pass the folder that holds the policy files' });
    return null;
  }
  const found: Found[] = [];
  walk(dir, '', found, ctx, realpathSync(dir));
  const out: SourceFile[] = [];
  const buffer = { bytes: Buffer.allocUnsafe(64 * 1024) };
  for (const f of found) {
    try {
      const bytes = readAtMost(f.abs, maxBytes, f.followed, buffer);
      out.push(typeof bytes === 'number' ? tooLarge(ctx, f.rel, bytes, maxBytes) : decode(ctx, f.rel, bytes));
    } catch (err) {
      report(ctx, 'WFT102', `${f.rel} cannot be read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { file: f.rel, span: FILE_START });
    }
  }
  return out;
}

/** Found is a policy file to read: `abs` is the verified target when `followed` (a symlink). */
interface Found {
  rel: string;
  abs: string;
  followed: boolean;
}

/**
 * readAtMost reads a file of at most `maxBytes`, or returns its size when it is longer (a file
 * whose size says so up front is never read; one that grows, or reports no size, as /proc does,
 * is cut off at the bound). A file that was not a symlink when walked is opened with O_NOFOLLOW,
 * so swapping it for a symlink between the walk and the read cannot make the compiler read
 * outside the folder. `scratch` is a reusable read buffer, grown as needed; the bytes returned
 * are a view of it, valid until the next call.
 */
function readAtMost(abs: string, maxBytes: number, followed: boolean, scratch: { bytes: Buffer }): Uint8Array | number {
  const fd = openSync(abs, followed ? 'r' : fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
  try {
    const size = fstatSync(fd).size;
    if (size > maxBytes) return size;
    let total = 0;
    for (;;) {
      // One byte more than the stat size, so a file that grew since is noticed.
      if (scratch.bytes.length < Math.min(Math.max(size, total) + 1, maxBytes + 1)) scratch.bytes = Buffer.allocUnsafe(Math.min(Math.max(size, total * 2) + 1, maxBytes + 1));
      const n = readSync(fd, scratch.bytes, total, Math.min(scratch.bytes.length, maxBytes + 1) - total, null);
      if (n === 0) break;
      total += n;
      if (total > maxBytes) return maxBytes + 1;
    }
    return scratch.bytes.subarray(0, total);
  } finally {
    closeSync(fd);
  }
}

/** inside is true when `target` is `root` or below it (both real paths). */
function inside(root: string, target: string): boolean {
  const rel = path.relative(root, target);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

function walk(abs: string, rel: string, out: Found[], ctx: PassContext, realRoot: string): void {
  let entries;
  try {
    entries = readdirSync(abs, { withFileTypes: true });
  } catch (err) {
    report(ctx, 'WFT102', `directory ${rel || '.'} cannot be read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, null);
    return;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const childAbs = path.join(abs, e.name);
    const childRel = rel === '' ? e.name : `${rel}/${e.name}`;
    if (e.isDirectory()) {
      if (!skipDir(e.name)) walk(childAbs, childRel, out, ctx, realRoot);
      continue;
    }
    if (!isPolicyFile(e.name)) continue;
    // A regular file is read as it is (O_NOFOLLOW; its size is checked on the open descriptor).
    if (e.isFile()) {
      out.push({ rel: childRel, abs: childAbs, followed: false });
      continue;
    }
    // A symlink counts when it points at a file inside the folder; symlinked folders are not
    // followed (no loops). One that leads outside is never read: its target could be a secret
    // (/proc/self/environ) that findings would quote into a CI log.
    if (!e.isSymbolicLink()) continue;
    try {
      const target = realpathSync(childAbs);
      if (!inside(realRoot, target)) {
        report(ctx, 'WFT105', `${childRel} is a symlink that leads outside the policy folder; it was not read`, { file: childRel, span: FILE_START }, {
          hint: 'copy the file into the folder, or point the command at a folder that contains the target',
        });
        continue;
      }
      if (statSync(target).isFile()) out.push({ rel: childRel, abs: target, followed: true });
    } catch {
      // A dangling symlink is not a policy file.
    }
  }
}

// ---- from git ---------------------------------------------------------------------------

/**
 * locate finds the repository that holds `dir` and dir's path inside it. The folder may be
 * missing from the working tree (deleted since `rev`), so git runs in its nearest existing
 * ancestor.
 */
async function locate(dir: string): Promise<{ top: string; sub: string } | null> {
  let existing = path.resolve(dir);
  const rest: string[] = [];
  for (;;) {
    try {
      if (statSync(existing).isDirectory()) break;
    } catch {
      // keep climbing
    }
    const parent = path.dirname(existing);
    if (parent === existing) return null;
    rest.unshift(path.basename(existing));
    existing = parent;
  }
  try {
    const top = (await simpleGit(existing).raw(['rev-parse', '--show-toplevel'])).trim();
    const realTop = realpathSync(top);
    const sub = path.relative(realTop, path.join(realpathSync(existing), ...rest));
    if (sub.startsWith('..') || path.isAbsolute(sub)) return null;
    return { top: realTop, sub: sub.split(path.sep).join('/') };
  } catch {
    return null;
  }
}

async function loadFromGit(dir: string, rev: string, maxBytes: number, ctx: PassContext): Promise<SourceFile[] | null> {
  // A revision starting with "-" would be read by git as an option.
  if (rev === '' || rev.startsWith('-') || /[\0\n]/.test(rev)) {
    report(ctx, 'WFT103', `"${rev}" is not a git revision`, null);
    return null;
  }
  const memo = ctx.options.memo;
  const where = memo?.location(dir) ?? (await locate(dir));
  if (where && memo) {
    memo.setLocation(dir, where);
    return loadFromGitIncremental(memo, where, rev, maxBytes, ctx);
  }
  if (!where) {
    report(ctx, 'WFT103', `${dir} is not inside a git repository, so --rev ${rev} cannot be read`, null);
    return null;
  }
  const git = simpleGit(where.top);
  const commit = await revParse(git, rev, ctx);
  if (commit === null) return null;
  ctx.revision = { commit, ref: rev, path: where.sub };
  if (where.sub !== '') {
    let type = '';
    try {
      type = (await git.raw(['cat-file', '-t', `${commit}:${where.sub}`])).trim();
    } catch {
      type = '';
    }
    if (type !== 'tree') {
      report(ctx, 'WFT102', `${where.sub} is not a directory at revision ${rev} (${commit.slice(0, 12)})`, null);
      return null;
    }
  }
  try {
    return await readTree(git, commit, where.sub, maxBytes, ctx);
  } catch (err) {
    // git itself failed (a corrupt object, a killed process): still a finding, not a crash.
    report(ctx, 'WFT103', `cannot read ${where.sub || 'the repository root'} at ${rev}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`, null);
    return null;
  }
}

/** revParse is the commit `rev` names, or null (reported as WFT103) when there is none. */
async function revParse(git: ReturnType<typeof simpleGit>, rev: string, ctx: PassContext): Promise<string | null> {
  let commit: string;
  try {
    commit = (await git.raw(['rev-parse', '--verify', '--quiet', '--end-of-options', `${rev}^{commit}`])).trim();
  } catch {
    commit = '';
  }
  if (!/^[0-9a-f]{40,64}$/.test(commit)) {
    report(ctx, 'WFT103', `revision "${rev}" does not exist in the git repository`, null, {
      hint: 'use a branch, tag, SHA or an expression such as HEAD~1',
    });
    return null;
  }
  return commit;
}

async function readTree(git: ReturnType<typeof simpleGit>, commit: string, sub: string, maxBytes: number, ctx: PassContext): Promise<SourceFile[]> {
  // :(literal): a folder named like a glob (`a*`) must match only itself.
  const listing = await git.raw(['ls-tree', '-r', '-l', '-z', '--full-tree', commit, ...(sub === '' ? [] : ['--', `:(literal)${sub}/`])]);
  const prefix = sub === '' ? '' : `${sub}/`;
  const wanted: { rel: string; object: string; size: number }[] = [];
  const out: SourceFile[] = [];
  for (const entry of listing.split('\0')) {
    // "<mode> <type> <object> <size>\t<path>"; symlinks (120000) and submodules are not files.
    const m = /^(\d+) (\w+) ([0-9a-f]+) +(\d+|-)\t(.*)$/s.exec(entry);
    if (!m || m[2] !== 'blob' || m[1] === '120000') continue;
    const full = m[5] ?? '';
    if (!full.startsWith(prefix)) continue;
    const rel = full.slice(prefix.length);
    const parts = rel.split('/');
    if (!isPolicyFile(rel) || parts.slice(0, -1).some(skipDir)) continue;
    const size = Number(m[4]);
    const object = m[3] ?? '';
    if (size > maxBytes) out.push(tooLarge(ctx, rel, size, maxBytes));
    // A blob whose parse result the memo holds is not read at all: git named its content.
    else if (ctx.options.memo?.hasFile(rel, object)) out.push({ path: rel, size, text: null, blob: object });
    else wanted.push({ rel, object, size });
  }
  let batch: typeof wanted = [];
  let batchBytes = 0;
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    // `git show` of blob objects prints their bytes back to back; ls-tree gave each size.
    const buf = await git.showBuffer(batch.map((b) => b.object));
    let at = 0;
    for (const b of batch) {
      out.push({ ...decode(ctx, b.rel, buf.subarray(at, at + b.size)), blob: b.object });
      at += b.size;
    }
    batch = [];
    batchBytes = 0;
  };
  for (const w of wanted) {
    if (batch.length >= BLOBS_PER_BATCH || (batchBytes + w.size > BYTES_PER_BATCH && batch.length > 0)) await flush();
    batch.push(w);
    batchBytes += w.size;
  }
  await flush();
  return out;
}

// ---- from git, incrementally (a memo) ----------------------------------------------------

const FULL_OID = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/**
 * loadFromGitIncremental is loadFromGit for a long-lived compiler: the same files and findings,
 * read through the memo's `git cat-file --batch` process (no git process started per commit),
 * listing only the folders whose tree id changed since the memo last saw them and reading only
 * the blobs whose parse result the memo does not hold.
 */
async function loadFromGitIncremental(memo: CompileMemo, where: { top: string; sub: string }, rev: string, maxBytes: number, ctx: PassContext): Promise<SourceFile[] | null> {
  const reader = memo.gitReader(where.top);
  const failed = (err: unknown): null => {
    report(ctx, 'WFT103', `cannot read ${where.sub || 'the repository root'} at ${rev}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`, null);
    return null;
  };
  let commit: string | null;
  try {
    // A full object id is peeled by the reader; anything else (a branch, HEAD~1) needs rev-parse.
    if (FULL_OID.test(rev)) {
      const obj = await reader.read(`${rev}^{commit}`, 0);
      commit = obj?.type === 'commit' ? obj.oid : null;
      if (commit === null) {
        report(ctx, 'WFT103', `revision "${rev}" does not exist in the git repository`, null, { hint: 'use a branch, tag, SHA or an expression such as HEAD~1' });
        return null;
      }
    } else {
      commit = await revParse(simpleGit(where.top), rev, ctx);
      if (commit === null) return null;
    }
  } catch (err) {
    return failed(err);
  }
  ctx.revision = { commit, ref: rev, path: where.sub };
  try {
    const tree = await reader.read(where.sub === '' ? `${commit}^{tree}` : `${commit}:${where.sub}`, 0);
    if (tree?.type !== 'tree') {
      report(ctx, 'WFT102', `${where.sub} is not a directory at revision ${rev} (${commit.slice(0, 12)})`, null);
      return null;
    }
    const lister: Lister = { memo, reader, ctx, maxBytes, base: `${where.top}\0${where.sub}\0`, idBytes: commit.length / 2, reads: [] };
    const files = await listFolder(lister, tree.oid, '');
    await Promise.all(lister.reads);
    return files.slice();
  } catch (err) {
    return failed(err);
  }
}

interface Lister {
  memo: CompileMemo;
  reader: GitObjectReader;
  ctx: PassContext;
  maxBytes: number;
  /** Listing keys start with the repository and the compiled path. */
  base: string;
  idBytes: number;
  /** Blob reads in flight; each fills in its placeholder SourceFile. */
  reads: Promise<void>[];
}

/**
 * listFolder lists the policy files under the folder with tree id `oid` at `prefix` (relative to
 * the compiled folder, ending in `/` unless empty), in git's order (ls-tree -r's order). A folder
 * whose listing is kept under the same id and was complete is handed back as it is.
 */
async function listFolder(l: Lister, oid: string, prefix: string): Promise<readonly SourceFile[]> {
  const key = l.base + prefix;
  const prev = l.memo.listing(key);
  if (prev && prev.oid === oid && prev.files) return prev.files;
  let entries = prev && prev.oid === oid ? prev.entries : null;
  if (!entries) {
    const obj = await l.reader.read(oid);
    if (obj?.type !== 'tree' || !obj.bytes) throw new Error(`tree ${oid} (${prefix || '.'}) cannot be read`);
    entries = parseTree(obj.bytes, l.idBytes);
    l.memo.stats.listed++;
  }
  const out: SourceFile[] = [];
  const own = new Map<string, SourceFile>();
  const children: string[] = [];
  let complete = true;
  for (const e of entries) {
    if (e.mode === '40000') {
      if (skipDir(e.name)) continue;
      const sub = `${prefix}${e.name}/`;
      const files = await listFolder(l, e.oid, sub);
      for (const f of files) out.push(f);
      children.push(l.base + sub);
      if (!l.memo.listing(l.base + sub)?.files) complete = false;
      continue;
    }
    // Files only: symlinks (120000) and submodules (160000) are not policy files, as in ls-tree.
    if (!e.mode.startsWith('10') || !isPolicyFile(e.name)) continue;
    const rel = prefix + e.name;
    const known = prev?.own.get(e.name);
    // A blob whose parse result the memo holds is not read at all: git named its content.
    if (known && known.blob === e.oid && !rel.endsWith('.cue') && l.memo.hasFile(rel, e.oid)) {
      out.push(known);
      own.set(e.name, known);
      continue;
    }
    complete = false;
    const file: SourceFile = { path: rel, size: 0, text: null, blob: e.oid };
    out.push(file);
    l.reads.push(
      l.reader.read(e.oid, l.maxBytes).then((obj) => {
        if (!obj || obj.type !== 'blob') throw new Error(`blob ${e.oid} (${rel}) cannot be read`);
        const read = obj.bytes === null ? tooLarge(l.ctx, rel, obj.size, l.maxBytes) : decode(l.ctx, rel, obj.bytes);
        file.size = read.size;
        file.text = read.text;
        own.set(e.name, { path: rel, size: read.size, text: null, blob: e.oid });
      }),
    );
  }
  const listing: FolderListing = { oid, entries, own, files: complete ? out : null, children };
  l.memo.setListing(key, listing);
  return out;
}
