import type { SourceProblemCode } from '../errors.js';

/**
 * BundleSource is where a proxy gets bundles from: a file (runtime/sources/file-source.ts) or a
 * controller (runtime/sources/controller-source.ts). Every implementation passes the same
 * conformance suite (test/runtime/sources/conformance.ts).
 *
 * A source only delivers candidate bytes; the sink (the proxy's reloader) verifies, builds and
 * swaps, and answers with a verdict the source may report upstream.
 */
export interface BundleSource {
  /** Human-readable origin for logs and /config, e.g. `file:/etc/weft/bundle.json`. */
  readonly description: string;
  /** Starts delivering; resolves once the first candidate (if any is available) was offered. */
  start(sink: BundleSink): Promise<void>;
  /** Stops watching or polling; resolves when no further offer will be made. */
  stop(): Promise<void>;
}

/** BundleSink receives candidate bundles. Offers are serialised by the sink. */
export interface BundleSink {
  offer(text: string): Promise<LoadVerdict>;
  /**
   * problem says why the source has nothing (new) to offer: the file is missing, unreadable or
   * over the size limit, the controller is unreachable... `null` once it can read again. Sources
   * call it on every attempt; the sink logs only changes. The reason never quotes the content.
   */
  problem?(p: SourceProblem | null): void;
}

/** SourceProblem is why a source cannot deliver: a stable code and one line (never the content). */
export interface SourceProblem {
  readonly code: SourceProblemCode;
  readonly reason: string;
}

/** LoadVerdict is what happened to an offered bundle. */
export type LoadVerdict =
  | { state: 'active'; digest: string }
  | { state: 'unchanged'; digest: string }
  | { state: 'rejected'; digest: string | null; code: string; reason: string };
