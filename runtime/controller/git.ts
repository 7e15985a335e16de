import { simpleGit, type SimpleGit } from 'simple-git';
import { ControllerError, messageOf } from './errors.js';

/** CommitInfo is what /v1/status shows about a commit. `time` is the committer date, ISO 8601. */
export interface CommitInfo {
  commit: string;
  message: string;
  author: string;
  time: string;
}

/** gitAt returns a simple-git client rooted at `dir`; git commands that hang are cut off. */
export function gitAt(dir: string, timeoutMs = 120_000): SimpleGit {
  return simpleGit({ baseDir: dir, maxConcurrentProcesses: 2, timeout: { block: timeoutMs } });
}

/** resolveCommit is the full SHA `ref` points at; ControllerError WEFT_CTL_REPO when it does not resolve. */
export async function resolveCommit(git: SimpleGit, ref: string): Promise<string> {
  try {
    return (await git.raw(['rev-parse', '--verify', '--quiet', `${ref}^{commit}`])).trim();
  } catch (err) {
    throw new ControllerError('WEFT_CTL_REPO', `cannot resolve ${ref}: ${messageOf(err)}`);
  }
}

/** commitInfo reads subject, author and committer date of one commit. */
export async function commitInfo(git: SimpleGit, commit: string): Promise<CommitInfo> {
  const out = await git.raw(['show', '-s', '--format=%H%x00%an <%ae>%x00%cI%x00%s', commit]);
  const [sha = commit, author = '', time = '', message = ''] = out.trim().split('\0');
  return { commit: sha, author, time, message };
}

/** redactUrl hides credentials in a repository URL so it can be logged and shown in /v1/status. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.username || u.password) {
      u.username = '***';
      u.password = '';
    }
    return u.toString();
  } catch {
    return url.replace(/\/\/[^/@]*@/, '//***@');
  }
}
