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

/**
 * commitInfoOf reads CommitInfo from a raw commit object (as `git cat-file commit` prints it),
 * formatted as commitInfo's `git show` gives it: the author as `Name <email>`, the committer date
 * in strict ISO 8601 in the committer's own offset (%cI), and the subject: the message's first
 * paragraph on one line (%s).
 */
export function commitInfoOf(commit: string, raw: string): CommitInfo {
  const blank = raw.indexOf('\n\n');
  const headers = (blank < 0 ? raw : raw.slice(0, blank)).split('\n');
  let author = '';
  let time = '';
  for (const h of headers) {
    if (h.startsWith('author ')) {
      const m = /^author (.*?) (\d+) [+-]\d{4}$/.exec(h);
      author = m ? m[1]! : h.slice(7);
    } else if (h.startsWith('committer ')) {
      const m = /^committer .*? (\d+) ([+-])(\d{2})(\d{2})$/.exec(h);
      if (m) time = isoWithOffset(Number(m[1]), m[2] === '-' ? -1 : 1, Number(m[3]), Number(m[4]));
    }
  }
  const body = blank < 0 ? '' : raw.slice(blank + 2);
  const lines: string[] = [];
  for (const line of body.replace(/^(?:[ \t]*\n)+/, '').split('\n')) {
    if (line.trim() === '') break;
    lines.push(line.trimEnd());
  }
  return { commit, author, time, message: lines.join(' ') };
}

/** isoWithOffset is `seconds` since the epoch as YYYY-MM-DDTHH:MM:SS±HH:MM in that offset. */
function isoWithOffset(seconds: number, sign: number, hours: number, minutes: number): string {
  const offset = sign * (hours * 60 + minutes);
  const local = new Date((seconds + offset * 60) * 1000).toISOString().slice(0, 19);
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${local}${sign < 0 ? '-' : '+'}${two(hours)}:${two(minutes)}`;
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
