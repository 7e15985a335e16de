/**
 * A thin wrapper over the `git` executable for the demo repository. The demo uses plain git (not
 * simple-git) because it also prints these very commands for the user to type.
 */
import { execFile } from 'node:child_process';

/** GitResult is what one git invocation printed. */
export interface GitResult {
  stdout: string;
  stderr: string;
}

/**
 * git runs `git -C dir ...args` and resolves with its output; rejects with git's own one-line
 * complaint when it exits non-zero. The environment never opens an editor or a pager.
 */
export function git(dir: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      ['-C', dir, ...args],
      { env: { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_EDITOR: 'true', GIT_PAGER: 'cat', ...env }, maxBuffer: 8 << 20 },
      (err, stdout, stderr) => {
        if (err) {
          const line = stderr.trim().split('\n').pop() ?? err.message;
          reject(new Error(`git ${args[0] ?? ''}: ${line}`));
          return;
        }
        resolve({ stdout, stderr });
      },
    );
  });
}

/** gitOk resolves true when the git command exits 0 (for questions such as "is this a repo?"). */
export async function gitOk(dir: string, args: string[]): Promise<boolean> {
  try {
    await git(dir, args);
    return true;
  } catch {
    return false;
  }
}
