/**
 * CompileMemo makes a long-lived compiler (the controller) incremental: it carries results of one
 * compile into the next, keyed so that a reused result is exactly what recomputing would give.
 *
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

/** CompileMemo: see the file comment. */
export class CompileMemo {
  private files = new Map<string, ParsedFile>();
  private usedFiles = new Set<string>();
  private validated = new WeakMap<RawDocument, ValidatedDocument>();
  private services = new Map<string, LoweredService>();
  private usedServices = new Set<string>();
  /**
   * What the last compile did afresh and what it reused (for metrics and tests): files parsed
   * and reused, routes resolved afresh, parents whose tables were rebuilt, Services lowered and
   * kept.
   */
  readonly stats = { parsed: 0, reused: 0, resolved: 0, tabled: 0, lowered: 0, kept: 0 };

  /** fileKey is the key of one file's parse result: path and blob id. */
  static fileKey(path: string, blob: string): string {
    return `${path}\0${blob}`;
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

  /** begin starts a compile: usage marks and stats are reset. */
  begin(): void {
    this.usedFiles = new Set();
    this.usedServices = new Set();
    this.stats.parsed = this.stats.reused = this.stats.resolved = this.stats.tabled = this.stats.lowered = this.stats.kept = 0;
  }

  /**
   * sweep drops what the compile just finished did not use. Call after a compile that ran to
   * the end; after one that stopped early (errors), keeping everything is harmless.
   */
  sweep(): void {
    for (const k of this.files.keys()) if (!this.usedFiles.has(k)) this.files.delete(k);
    for (const k of this.services.keys()) if (!this.usedServices.has(k)) this.services.delete(k);
  }

  /** size is how many files and Services are kept. */
  get size(): { files: number; services: number } {
    return { files: this.files.size, services: this.services.size };
  }
}
