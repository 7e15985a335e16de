import nodePath from 'node:path';
import { realpath, stat } from 'node:fs/promises';
import { watch, type FSWatcher } from 'chokidar';
import type { SimpleGit } from 'simple-git';
import { ControllerError, messageOf } from './errors.js';
import { commitInfo, commitInfoOf, gitAt, resolveCommit, type CommitInfo } from './git.js';
import { GitObjectReader } from '../../compiler/git-objects.js';
import type { Repository } from './repository.js';

/**
 * LocalRepository is a checkout on this machine. `git commit` moves the branch by renaming
 * `refs/heads/<branch>.lock` over the ref (or rewriting packed-refs after `git pack-refs`), so
 * the ref folder, packed-refs and HEAD are watched with chokidar: a commit is seen within
 * milliseconds. Whole directories are watched, not single files, because git replaces files by
 * rename and a watch on the old inode would go quiet.
 */
export class LocalRepository implements Repository {
  readonly description: string;
  branch: string;
  compileDir = '';
  private gitClient: SimpleGit | null = null;
  private watcher: FSWatcher | null = null;
  private gitDir = '';
  private commonDir = '';
  /**
   * One long-lived `git cat-file --batch` for the branch head and commit details: a git process
   * started per commit costs the controller's main thread milliseconds (a large heap to fork)
   * and, on a busy machine, waits for a core. Falls back to a git command when it fails.
   */
  private objects: GitObjectReader | null = null;

  constructor(
    private readonly repoPath: string,
    branch: string | undefined,
    readonly path: string,
  ) {
    this.repoPath = nodePath.resolve(repoPath);
    this.description = `file:${this.repoPath}`;
    this.branch = branch ?? '';
  }

  /** Created on first use: simple-git refuses a directory that does not exist yet. */
  private get git(): SimpleGit {
    return (this.gitClient ??= gitAt(this.repoPath));
  }

  async open(): Promise<void> {
    try {
      const st = await stat(this.repoPath);
      if (!st.isDirectory()) throw new Error('not a directory');
      const [top, gitDir, commonDir] = (await this.git.raw(['rev-parse', '--show-toplevel', '--absolute-git-dir', '--git-common-dir']))
        .trim()
        .split('\n');
      if (!top || !gitDir || !commonDir) throw new Error('not a git work tree (bare repositories are not supported)');
      // A folder inside a work tree would silently compile the whole repository from its top.
      const given = await realpath(this.repoPath);
      if (nodePath.resolve(given) !== nodePath.resolve(top)) {
        const rel = nodePath.relative(top, given).split(nodePath.sep).join('/');
        const sub = this.path ? `${rel}/${this.path}` : rel;
        throw new ControllerError('WEFT_CTL_REPO', `is a folder inside the git repository ${top}, which is compiled from its top level: give --repo ${top} --path ${sub}`);
      }
      this.gitDir = gitDir;
      this.objects?.close();
      this.objects = new GitObjectReader(top);
      this.commonDir = nodePath.resolve(this.repoPath, commonDir);
      this.compileDir = this.path ? nodePath.join(top, ...this.path.split('/')) : top;
      if (!this.branch) {
        this.branch = (await this.git.raw(['symbolic-ref', '--short', 'HEAD'])).trim();
      }
    } catch (err) {
      if (err instanceof ControllerError) throw err;
      throw new ControllerError('WEFT_CTL_REPO', `cannot open repository ${this.repoPath}: ${messageOf(err)}`);
    }
    // A branch that does not exist is a mistake in --branch, unless the repository has no commit
    // at all yet (a new repository: the first commit will be compiled when it lands).
    if ((await this.refresh()) === '') {
      const branches = (await this.git.raw(['for-each-ref', '--format=%(refname:short)', 'refs/heads'])).trim().split('\n').filter(Boolean);
      if (branches.length > 0) throw new ControllerError('WEFT_CTL_REPO', `branch "${this.branch}" does not exist (branches: ${branches.slice(0, 10).join(', ')})`);
    }
  }

  async watch(onMaybeMoved: (why: string) => void): Promise<void> {
    const refsHeads = nodePath.join(this.commonDir, 'refs', 'heads');
    const roots = new Set([this.commonDir, this.gitDir]);
    const interesting = (p: string): boolean => {
      if (roots.has(p)) return true;
      if (p === refsHeads || p.startsWith(refsHeads + nodePath.sep)) return !p.endsWith('.lock');
      const base = nodePath.basename(p);
      return roots.has(nodePath.dirname(p)) && (base === 'HEAD' || base === 'packed-refs');
    };
    // `refs/` must be traversed to reach refs/heads; it is passed by the check below, while
    // its other children (tags, remotes) are ignored.
    const refsDir = nodePath.join(this.commonDir, 'refs');
    this.watcher = watch([...roots, refsHeads], {
      ignoreInitial: true,
      persistent: true,
      ignored: (p: string) => !(interesting(p) || p === refsDir),
    });
    this.watcher.on('all', (event, p) => onMaybeMoved(`${event} ${nodePath.relative(this.commonDir, p) || '.'}`));
    await new Promise<void>((resolve) => this.watcher!.once('ready', () => resolve()));
  }

  async refresh(): Promise<string> {
    const ref = `refs/heads/${this.branch}`;
    if (this.objects && !/[\0\n]/.test(ref)) {
      try {
        // cat-file reads the ref afresh on every request (loose or packed), like rev-parse.
        const obj = await this.objects.read(`${ref}^{commit}`, 0);
        return obj?.type === 'commit' ? obj.oid : '';
      } catch {
        // fall through to rev-parse
      }
    }
    return resolveCommit(this.git, ref);
  }

  async commitInfo(commit: string): Promise<CommitInfo> {
    if (this.objects && /^[0-9a-f]{40,64}$/.test(commit)) {
      try {
        const obj = await this.objects.read(commit, 1024 * 1024);
        if (obj?.type === 'commit' && obj.bytes) return commitInfoOf(obj.oid, obj.bytes.toString('utf8'));
      } catch {
        // fall through to git show
      }
    }
    return commitInfo(this.git, commit);
  }

  async close(): Promise<void> {
    this.objects?.close();
    this.objects = null;
    await this.watcher?.close();
    this.watcher = null;
  }
}
