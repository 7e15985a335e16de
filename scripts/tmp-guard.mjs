#!/usr/bin/env node
/**
 * tmp-guard runs a command (npm test's test step) with TMPDIR pointing at a fresh private
 * directory, and fails the run when the command leaves anything in it: tests remove what they
 * create (issue 13 item 24). Every temp folder a test or a process it spawns makes through
 * os.tmpdir() (mkdtemp, the harness's tempDir, git, child proxies) lands there.
 *
 * A private directory rather than a before/after listing of the shared temp folder, so other
 * processes on the machine (another checkout's test run, a build) can neither hide a leak nor
 * cause a false one. The directory is removed at the end either way.
 *
 * Usage: node scripts/tmp-guard.mjs -- COMMAND [ARG...]
 * Exit code: the command's when it failed; else 1 when something was left behind; else 0.
 */
import { spawn } from 'node:child_process';
import { lstatSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const sep = process.argv.indexOf('--');
const [cmd, ...args] = sep >= 0 ? process.argv.slice(sep + 1) : process.argv.slice(2);
if (!cmd) {
  process.stderr.write('usage: node scripts/tmp-guard.mjs -- COMMAND [ARG...]\n');
  process.exit(2);
}

const dir = mkdtempSync(path.join(tmpdir(), 'weft-tmp-guard-'));
const child = spawn(cmd, args, { stdio: 'inherit', env: { ...process.env, TMPDIR: dir, TMP: dir, TEMP: dir } });

// Pass a stop request on (CI's timeout, Ctrl-C) instead of leaving the suite running.
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));

/** leftovers lists what is in `root`, one line per top-level entry (kind, name). */
function leftovers(root) {
  return readdirSync(root)
    .sort()
    .map((name) => {
      let kind = 'file';
      try {
        const st = lstatSync(path.join(root, name));
        kind = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : st.isSocket() ? 'socket' : 'file';
      } catch {
        // removed while listing
      }
      return `${kind} ${name}`;
    });
}

child.on('error', (err) => {
  process.stderr.write(`tmp-guard: cannot run ${cmd}: ${err.message}\n`);
  rmSync(dir, { recursive: true, force: true });
  process.exit(2);
});
child.on('exit', (code, signal) => {
  const left = leftovers(dir);
  rmSync(dir, { recursive: true, force: true });
  if (left.length > 0) {
    process.stderr.write(`\ntmp-guard: the tests left ${left.length} entr${left.length === 1 ? 'y' : 'ies'} in the temp folder (tests must remove what they create):\n`);
    for (const l of left.slice(0, 50)) process.stderr.write(`  ${l}\n`);
    if (left.length > 50) process.stderr.write(`  … and ${left.length - 50} more\n`);
  }
  if (signal) process.exit(1);
  if (code !== 0) process.exit(code ?? 1);
  process.exit(left.length > 0 ? 1 : 0);
});
