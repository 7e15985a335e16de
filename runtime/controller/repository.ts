/**
 * Repository is where the controller's commits come from: a local checkout watched with chokidar
 * (local-repository.ts) or a remote URL mirrored into a cache (remote-repository.ts). Both give
 * the same three answers, so the compile loop does not know which one it has.
 */
import type { CommitInfo } from './git.js';

export interface Repository {
  /** For logs and /v1/status: `file:/path` or the URL with credentials redacted. */
  readonly description: string;
  /** The branch that is compiled (resolved by open() when not given). */
  readonly branch: string;
  /** Sub-directory compiled, '' for the root; '/'-separated, no leading or trailing slash. */
  readonly path: string;
  /** The directory to hand to compile() as `dir` (the revision is read from git, not from it). */
  readonly compileDir: string;
  /** Opens (clones when remote) and resolves the branch; throws ControllerError WEFT_CTL_REPO. */
  open(): Promise<void>;
  /**
   * Starts push notification of possible branch moves (spurious calls allowed; the caller
   * re-reads the branch). Remote repositories have none: they rely on polling and webhooks.
   */
  watch(onMaybeMoved: (why: string) => void): Promise<void>;
  /** The branch's current commit; remote repositories fetch first. */
  refresh(): Promise<string>;
  commitInfo(commit: string): Promise<CommitInfo>;
  close(): Promise<void>;
}

/** isRemoteRepo tells a URL (https, ssh, git, file://, scp-like user@host:path) from a local path. */
export function isRemoteRepo(repo: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(repo) || /^[^/\s]+@[^/\s]+:/.test(repo);
}

/** normaliseSubPath turns --path into '' or `a/b` (no dots, no leading/trailing slashes). */
export function normaliseSubPath(p: string | undefined): string {
  if (!p) return '';
  const parts = p.split(/[\\/]+/).filter((s) => s !== '' && s !== '.');
  if (parts.some((s) => s === '..')) throw new Error(`--path must stay inside the repository: ${p}`);
  return parts.join('/');
}
