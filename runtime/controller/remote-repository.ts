import nodePath from 'node:path';
import { createHash } from 'node:crypto';
import { mkdir, rm, stat } from 'node:fs/promises';
import { readFileBounded } from '../bounded-read.js';
import type { SimpleGit } from 'simple-git';
import { ControllerError, messageOf } from './errors.js';
import { commitInfo, gitAt, redactUrl, resolveCommit, type CommitInfo } from './git.js';
import type { Repository } from './repository.js';

/**
 * RemoteRepository mirrors a URL into `<cacheRoot>/<hash of URL>` (a clone without checkout:
 * the compiler reads commits from git, so a working tree would only cost disk). refresh()
 * fetches the branch and answers the commit it points at; the caller fetches on --poll and on
 * the push webhook. Fetches never overlap (the caller runs them one at a time).
 */
export class RemoteRepository implements Repository {
  readonly description: string;
  branch: string;
  readonly compileDir: string;
  private readonly dir: string;
  private gitClient: SimpleGit | null = null;

  constructor(
    private readonly url: string,
    branch: string | undefined,
    readonly path: string,
    cacheRoot: string,
  ) {
    this.description = redactUrl(url);
    this.branch = branch ?? '';
    this.dir = pathJoin(cacheRoot, createHash('sha256').update(url).digest('hex').slice(0, 16));
    this.compileDir = this.path ? pathJoin(this.dir, ...this.path.split('/')) : this.dir;
  }

  /** Created on first use: simple-git refuses a directory that does not exist yet. */
  private get git(): SimpleGit {
    return (this.gitClient ??= gitAt(this.dir));
  }

  async open(): Promise<void> {
    try {
      await mkdir(this.dir, { recursive: true });
      if (!(await this.isOurClone())) {
        await rm(this.dir, { recursive: true, force: true });
        await mkdir(nodePath.dirname(this.dir), { recursive: true });
        await gitAt(nodePath.dirname(this.dir)).clone(this.url, this.dir, ['--no-checkout', '--quiet']);
      }
      if (!this.branch) {
        await this.git.raw(['remote', 'set-head', 'origin', '--auto']).catch(() => '');
        const head = (await this.git.raw(['symbolic-ref', '--short', 'refs/remotes/origin/HEAD'])).trim();
        this.branch = head.replace(/^origin\//, '') || 'main';
      }
      // The compiler is handed a directory inside the repository; without a checkout the
      // sub-directory does not exist on disk, and an empty folder is invisible to git.
      await mkdir(this.compileDir, { recursive: true });
    } catch (err) {
      if (err instanceof ControllerError) throw err;
      throw new ControllerError('WEFT_CTL_REPO', `cannot clone ${this.description}: ${messageOf(err)}`);
    }
    await this.refresh();
  }

  private async isOurClone(): Promise<boolean> {
    try {
      await stat(pathJoin(this.dir, '.git'));
      const config = (await readFileBounded(pathJoin(this.dir, '.git', 'config'), 1024 * 1024)).toString('utf8');
      return config.includes(this.url);
    } catch {
      return false;
    }
  }

  watch(): Promise<void> {
    return Promise.resolve();
  }

  async refresh(): Promise<string> {
    try {
      await this.git.fetch(['--quiet', '--no-tags', 'origin', `+refs/heads/${this.branch}:refs/remotes/origin/${this.branch}`]);
    } catch (err) {
      throw new ControllerError('WEFT_CTL_REPO', `cannot fetch ${this.branch} from ${this.description}: ${messageOf(err)}`);
    }
    return resolveCommit(this.git, `refs/remotes/origin/${this.branch}`);
  }

  commitInfo(commit: string): Promise<CommitInfo> {
    return commitInfo(this.git, commit);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

function pathJoin(...parts: string[]): string {
  return nodePath.join(...parts);
}
