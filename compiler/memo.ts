/**
 * CompileMemo makes a long-lived compiler (the controller) incremental: it carries results of one
 * compile into the next, keyed so that a reused result is exactly what recomputing would give.
 *
 *  - load: per folder of the git tree, keyed by git tree id (a tree id names everything under
 *    it, so a folder whose id is unchanged is not listed again), read through one long-lived
 *    `git cat-file --batch` per repository instead of new git processes per commit.
 *  - parse: per file, keyed by path and git blob id (git has already hashed every file, so an
 *    unchanged file costs one string compare; its blob is not even read). A file's documents and
 *    its parse findings depend on its path and bytes only. CUE files are evaluated as one unit,
 *    keyed by every CUE file's path and blob.
 *  - validate: per parsed document object. A reused file hands on the very same document
 *    objects, so they are validated once.
 *  - lower: per Service, keyed by the identity of every input its entry is built from (the
 *    Service, its policies, the routes attached to it and what their references resolved to,
 *    the mesh settings). Unchanged inputs are the same objects (see above), so an unchanged
 *    Service keeps its ServiceEntry object, and emit keeps its serialised text (emit.ts).
 *
 * After each compile, entries the compile did not use are dropped (`sweep`), so the memo holds
 * one tree's worth of results: its memory is about that of the parsed repository plus one
 * bundle (docs/scale.md has figures). Compiles using one memo must not overlap (the controller
 * compiles one commit at a time).
 */
import type { ServiceEntry, SourceLocation } from '../schemas/bundle.js';
import type { Resource } from './resources.js';
import type { Diagnostic } from './diagnostic.js';
import type { RawDocument } from './raw-document.js';
import { GitObjectReader, type TreeEntry } from './git-objects.js';

/** ParsedFile is what parse produced for one file (or the CUE unit): documents and findings. */
export interface ParsedFile {
  readonly documents: readonly RawDocument[];
  readonly diagnostics: readonly Diagnostic[];
}

/** ValidatedDocument is what validate produced for one document: a resource or null, and findings. */
export interface ValidatedDocument {
  readonly resource: Resource | null;
  readonly diagnostics: readonly Diagnostic[];
}

/** LoweredService is one Service's entry, its source locations, and the inputs it was built from. */
export interface LoweredService {
  readonly deps: readonly unknown[];
  readonly entry: ServiceEntry;
  /** Source ids and their locations, alternating (id, location, id, location, …): one array, not one per pair. */
  readonly sources: readonly (string | SourceLocation)[];
}

/** ListedFile has the shape of SourceFile (types.ts, which imports this file, so it cannot be named here). */
export interface ListedFile {
  path: string;
  size: number;
  text: string | null;
  blob?: string;
}

/**
 * FolderListing is one folder of a git tree as load listed it (compiler/load.ts): its tree id,
 * its entries, its direct policy files (as text-less SourceFiles, by name) and, when every
 * file under it had its parse result kept and no finding, the complete list of them (`files`),
 * which a later commit with the same tree id reuses without looking inside.
 */
export interface FolderListing {
  readonly oid: string;
  readonly entries: readonly TreeEntry[];
  readonly own: ReadonlyMap<string, ListedFile>;
  readonly files: readonly ListedFile[] | null;
  /** Keys of the sub-folders' listings (kept alive with this one). */
  readonly children: readonly string[];
}

/** CompileMemo: see the file comment. */
export class CompileMemo {
  private files = new Map<string, ParsedFile>();
  private keys = new WeakMap<object, string>();
  private usedFiles = new Set<string>();
  private validated = new WeakMap<RawDocument, ValidatedDocument>();
  private services = new Map<string, LoweredService>();
  private usedServices = new Set<string>();
  private listings = new Map<string, FolderListing>();
  private usedListings = new Set<string>();
  private readers = new Map<string, GitObjectReader>();
  private locations = new Map<string, { top: string; sub: string }>();
  /**
   * What the last compile did afresh and what it reused (for metrics and tests): git folders
   * listed (tree objects read), files parsed and reused, routes resolved afresh, parents whose tables were rebuilt, Services lowered and
   * kept.
   */
  readonly stats = { listed: 0, parsed: 0, reused: 0, resolved: 0, tabled: 0, lowered: 0, kept: 0 };

  /** fileKey is the key of one file's parse result: path and blob id. */
  static fileKey(path: string, blob: string): string {
    return `${path}\0${blob}`;
  }

  /**
   * keyOf is fileKey(file.path, file.blob), kept per file object: load hands on the same objects
   * for files in unchanged folders, so their keys are not rebuilt (nor re-hashed) each commit.
   */
  keyOf(file: ListedFile & { blob: string }): string {
    let key = this.keys.get(file);
    if (key === undefined || !key.startsWith(file.path) || !key.endsWith(file.blob) || key.length !== file.path.length + 1 + file.blob.length) {
      key = CompileMemo.fileKey(file.path, file.blob);
      this.keys.set(file, key);
    }
    return key;
  }

  /** hasFile is true when the parse result for `path` at `blob` is kept (load then skips reading it). */
  hasFile(path: string, blob: string): boolean {
    return this.files.has(CompileMemo.fileKey(path, blob));
  }

  file(key: string): ParsedFile | undefined {
    const f = this.files.get(key);
    if (f) {
      this.usedFiles.add(key);
      this.stats.reused++;
    }
    return f;
  }

  setFile(key: string, parsed: ParsedFile): void {
    this.files.set(key, parsed);
    this.usedFiles.add(key);
    this.stats.parsed++;
  }

  document(doc: RawDocument): ValidatedDocument | undefined {
    return this.validated.get(doc);
  }

  setDocument(doc: RawDocument, v: ValidatedDocument): void {
    this.validated.set(doc, v);
  }

  /** service returns the kept entry of Service `id` when it was built from exactly `deps`. */
  service(id: string, deps: readonly unknown[]): LoweredService | undefined {
    const s = this.services.get(id);
    if (!s || s.deps.length !== deps.length) return undefined;
    for (let i = 0; i < deps.length; i++) if (s.deps[i] !== deps[i]) return undefined;
    this.usedServices.add(id);
    this.stats.kept++;
    return s;
  }

  setService(id: string, s: LoweredService): void {
    this.services.set(id, s);
    this.usedServices.add(id);
    this.stats.lowered++;
  }

  /**
   * gitReader is the long-lived object reader of the repository at `top` (compiler/git-objects.ts):
   * one `git cat-file --batch` process per repository for the memo's lifetime (until `close`).
   */
  gitReader(top: string): GitObjectReader {
    let r = this.readers.get(top);
    if (!r) this.readers.set(top, (r = new GitObjectReader(top)));
    return r;
  }

  /** location is where folder `dir` was found in its repository (top level, path inside), once found. */
  location(dir: string): { top: string; sub: string } | undefined {
    return this.locations.get(dir);
  }

  setLocation(dir: string, where: { top: string; sub: string }): void {
    this.locations.set(dir, where);
  }

  /** listing is the kept listing of one folder (key: repository, compiled path, folder); marks it and its sub-folders used. */
  listing(key: string): FolderListing | undefined {
    const l = this.listings.get(key);
    if (l) this.useListing(key, l);
    return l;
  }

  setListing(key: string, l: FolderListing): void {
    this.listings.set(key, l);
    this.usedListings.add(key);
  }

  private useListing(key: string, l: FolderListing): void {
    if (this.usedListings.has(key)) return;
    this.usedListings.add(key);
    for (const c of l.children) {
      const sub = this.listings.get(c);
      if (sub) this.useListing(c, sub);
    }
  }

  /** close ends the git processes the memo started (the memo stays usable: a later read starts one again). */
  close(): void {
    for (const r of this.readers.values()) r.close();
    this.readers.clear();
  }

  /** begin starts a compile: usage marks and stats are reset. */
  begin(): void {
    this.usedFiles = new Set();
    this.usedServices = new Set();
    this.usedListings = new Set();
    this.stats.listed = this.stats.parsed = this.stats.reused = this.stats.resolved = this.stats.tabled = this.stats.lowered = this.stats.kept = 0;
  }

  /**
   * sweep drops what the compile just finished did not use. Call after a compile that ran to
   * the end; after one that stopped early (errors), keeping everything is harmless.
   */
  sweep(): void {
    for (const k of this.files.keys()) if (!this.usedFiles.has(k)) this.files.delete(k);
    for (const k of this.services.keys()) if (!this.usedServices.has(k)) this.services.delete(k);
    // A kept listing's `files` are all held above: each was used (parse looked it up) in this compile.
    for (const k of this.listings.keys()) if (!this.usedListings.has(k)) this.listings.delete(k);
  }

  /** size is how many files and Services are kept. */
  get size(): { files: number; services: number } {
    return { files: this.files.size, services: this.services.size };
  }
}
