/**
 * The typed forms the compiler passes hand to each other, and the Diagnostic they all produce.
 * Read compiler/passes.ts for the order.
 */
import type { Bundle, BundleSpec, Revision, SourceMap } from '../schemas/bundle.js';
import type { Diagnostic } from './diagnostic.js';
import type { RawDocument } from './raw-document.js';
import type { Resource } from './resources.js';

// Leaf forms live in their own modules (compiler/memo.ts needs them without this one).
export type { Diagnostic, Severity } from './diagnostic.js';
export type { RawDocument } from './raw-document.js';

/** CompileOptions are what a caller asks of compile(). */
export interface CompileOptions {
  /** Directory to compile; with `rev`, its path inside the repository that contains it. */
  dir: string;
  /** A git revision (`main`, `HEAD~1`, a SHA): read from git, never from the working tree. */
  rev?: string;
  /** PEM text of an ed25519 private key: the bundle is signed. */
  signKey?: string;
  /**
   * When the signature is made (RFC 3339, UTC; default: now). The signing time is the one
   * clock reading in a bundle, and only in a signed one: the digest, and every unsigned bundle,
   * stay byte-identical across machines; pass it to make signed output reproducible too.
   */
  issuedAt?: string;
  /** Largest policy file read, in bytes (default 1 MiB). */
  maxFileBytes?: number;
  /**
   * Results kept from earlier compiles (compiler/memo.ts): a long-lived caller (the controller)
   * passes the same memo to every compile, which then re-reads, re-parses and re-lowers only
   * what changed. The bundle is byte-identical to a compile without it.
   */
  memo?: import('./memo.js').CompileMemo;
}

/** PassContext is shared by every pass of one compile: options in, diagnostics out. */
export interface PassContext {
  readonly options: Readonly<CompileOptions>;
  readonly diagnostics: Diagnostic[];
  /** Set by load when the tree came from git. */
  revision: Revision | null;
}

/** SourceFile is one policy file as loaded. `text` is null when the file was refused (too large). */
export interface SourceFile {
  /** Relative to the compiled directory, `/`-separated. */
  path: string;
  size: number;
  text: string | null;
  /** The git blob id, when read from git; with a memo that holds this blob, `text` was not read (null). */
  blob?: string;
}

/** LoadedTree: output of load. Files sorted by path. */
export interface LoadedTree {
  files: SourceFile[];
}

/** ParsedTree: output of parse. Documents in file order, then document order. */
export interface ParsedTree {
  documents: RawDocument[];
}

/** ValidatedTree: output of validate. Only resources that passed their schema. */
export interface ValidatedTree {
  resources: Resource[];
}

/** LoweredTree: output of lower: the bundle's content and where each piece came from. */
export interface LoweredTree {
  spec: BundleSpec;
  sources: SourceMap;
}

/** CompileResult: a bundle when there were no errors, and every finding either way. */
export interface CompileResult {
  bundle: Bundle | null;
  /** The bundle as canonical JSON bytes (what `weft compile` writes), null with errors. */
  bundleJson: string | null;
  /** Sorted by file, line, column, code. */
  diagnostics: Diagnostic[];
  /** The validated resources (RouteTest cases are read from here by `weft test`). */
  resources: Resource[];
  /** Wall time per pass, in ms, for benchmarks and controller metrics. */
  timings: Record<string, number>;
}
