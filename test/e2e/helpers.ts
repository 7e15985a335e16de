/**
 * Shared by the end-to-end tests: runs the real `weft up` (compiled CLI, real processes, real
 * git, loopback only) in a temporary directory on a copy of the project's policies, reads what
 * it runs from its lock file, and stops it, checking that no process it started is left behind.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { request } from 'undici';

const run = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
/** ROOT is the package root (this file runs from dist/test/e2e). */
export const ROOT = path.resolve(here, '..', '..', '..');
/** WEFT is the compiled CLI. */
export const WEFT = path.join(ROOT, 'dist', 'bin', 'weft.js');

const started = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of started) {
    // A child started detached (through npm) leads its own group: take the whole group with it.
    try {
      if (c.pid !== undefined) process.kill(-c.pid, 'SIGKILL');
    } catch {
      c.kill('SIGKILL');
    }
  }
});

/** LockChild is one process `weft up` started, as its lock file lists it. */
export interface LockChild {
  name: string;
  pid: number;
  admin?: string;
}

/** UpLock is `.weft/up.lock` once the demo is ready. */
export interface UpLock {
  pid: number;
  ready?: boolean;
  dashboard?: string;
  controller?: string;
  repo?: string;
  children?: LockChild[];
}

/** UpRun is a running `weft up`. */
export interface UpRun {
  dir: string;
  repo: string;
  proc: ChildProcess;
  lock: Required<Pick<UpLock, 'controller' | 'dashboard' | 'repo' | 'children'>> & UpLock;
  output(): string;
  /** Every child pid ever listed in the lock (kept after the lock file is removed). */
  pids(): number[];
}

/** sleep waits `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** within resolves what `p` resolves, or rejects after `ms` naming `what` (every wait in a test is bounded). */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** GiveUp thrown by a waitFor check ends the wait at once (a process died: no point waiting). */
export class GiveUp extends Error {}

/**
 * waitFor polls `check` until it returns a value other than undefined/false, or throws on
 * timeout. Errors thrown by `check` count as "not yet" (a server still starting), except GiveUp.
 */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs: number, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      if (err instanceof GiveUp) throw err;
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    await sleep(everyMs);
  }
}

/** getJson GETs a JSON document. */
export async function getJson<T>(url: string): Promise<T> {
  const res = await request(url, { headersTimeout: 5000, bodyTimeout: 5000 });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`${url}: HTTP ${res.statusCode}: ${text.slice(0, 200)}`);
  return JSON.parse(text) as T;
}

/** isAlive tells whether a pid still runs. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const gitEnv = {
  ...process.env,
  GIT_AUTHOR_NAME: 'E2E Tester',
  GIT_AUTHOR_EMAIL: 'e2e@example.org',
  GIT_COMMITTER_NAME: 'E2E Tester',
  GIT_COMMITTER_EMAIL: 'e2e@example.org',
};

/** commitFile rewrites `rel` in the repository with `edit` and commits it; returns the new HEAD. */
export async function commitFile(repo: string, rel: string, edit: (text: string) => string, message: string): Promise<string> {
  const file = path.join(repo, rel);
  const before = await readFile(file, 'utf8');
  const after = edit(before);
  if (after === before) throw new Error(`edit of ${rel} changed nothing`);
  await writeFile(file, after);
  await run('git', ['-C', repo, '-c', 'commit.gpgsign=false', 'commit', '-q', '-am', message], { env: gitEnv });
  return (await run('git', ['-C', repo, 'rev-parse', 'HEAD'])).stdout.trim();
}

/**
 * startUp runs `weft up` in a fresh temporary directory (cwd) on a copy of policies/, with fresh
 * ports (several demos and other tests may run at once), and resolves once its lock says ready.
 * With `viaNpmStart`, it runs the way the README says, `npm start`: this package's own `start`
 * script, from a package folder in the temporary directory whose `dist` is this build (npm runs
 * scripts in the package's folder, so `.weft/` lands there, not in the checkout). Signals then go
 * to npm, as a supervisor's or a `kill` would.
 */
export async function startUp(extra: string[] = [], readyTimeoutMs = 60_000, opts: { viaNpmStart?: boolean } = {}): Promise<UpRun> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'weft-e2e-up-'));
  const policies = path.join(dir, 'policies-copy');
  await cp(path.join(ROOT, 'policies'), policies, { recursive: true });
  const cwd = path.join(dir, 'work');
  await mkdir(cwd);
  let out = '';
  const upArgs = ['--policies', policies, '--pick-ports', '--rate', '30', '--duration', '5m', ...extra];
  let command = process.execPath;
  let args = [WEFT, 'up', ...upArgs];
  if (opts.viaNpmStart) {
    const pkg = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } };
    await writeFile(path.join(cwd, 'package.json'), JSON.stringify({ name: 'weft-npm-start', private: true, scripts: { start: pkg.scripts.start } }));
    await symlink(path.join(ROOT, 'dist'), path.join(cwd, 'dist'));
    // Under `npm test` npm names itself; otherwise the npm on PATH.
    const npmCli = process.env.npm_execpath;
    [command, args] = npmCli && /npm-cli\.js$/.test(npmCli) ? [process.execPath, [npmCli, 'start', '--', ...upArgs]] : ['npm', ['start', '--', ...upArgs]];
  }
  const proc = spawn(command, args, {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1' },
    // Through npm, its own process group, as a terminal's foreground job: stopUp can then signal
    // the whole group the way Ctrl-C does.
    detached: opts.viaNpmStart === true,
  });
  started.add(proc);
  proc.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  const pids = new Set<number>();
  const lockFile = path.join(cwd, '.weft', 'up.lock');
  const readLock = async (): Promise<UpLock | undefined> => {
    try {
      const l = JSON.parse(await readFile(lockFile, 'utf8')) as UpLock;
      for (const c of l.children ?? []) pids.add(c.pid);
      return l;
    } catch {
      return undefined;
    }
  };
  const lock = await waitFor(
    'weft up to be ready',
    async () => {
      if (proc.exitCode !== null) throw new GiveUp(`weft up exited with ${proc.exitCode}`);
      const l = await readLock();
      return l?.ready ? l : undefined;
    },
    readyTimeoutMs,
    300,
  ).catch((err: unknown) => {
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n--- weft up output ---\n${out}`);
  });
  if (!lock.controller || !lock.dashboard || !lock.repo || !lock.children) throw new Error(`incomplete lock file: ${JSON.stringify(lock)}`);
  return {
    dir,
    repo: lock.repo,
    proc,
    lock: { ...lock, controller: lock.controller, dashboard: lock.dashboard, repo: lock.repo, children: lock.children },
    output: () => out,
    pids: () => [...pids],
  };
}

/**
 * stopUp sends SIGTERM (or `how.signal`, to the process group with `how.group`) and waits for
 * `weft up` to exit (SIGKILL after `timeoutMs`); resolves to its exit code and the pids of its
 * children (and of weft up itself, when up.proc is npm) still alive afterwards (should be none).
 */
export async function stopUp(up: UpRun, timeoutMs = 20_000, how: { signal?: NodeJS.Signals; group?: boolean } = {}): Promise<{ code: number | null; leftovers: number[] }> {
  let code: number | null = up.proc.exitCode;
  if (code === null && up.proc.signalCode === null) {
    const exited = new Promise<number | null>((resolve) => up.proc.once('exit', (c) => resolve(c)));
    // group: every process of the (detached) group at once, as a terminal's Ctrl-C does: npm
    // and weft up both get it, and npm forwards its copy too, so weft up sees the signal twice.
    if (how.group && up.proc.pid !== undefined) process.kill(-up.proc.pid, how.signal ?? 'SIGTERM');
    else up.proc.kill(how.signal ?? 'SIGTERM');
    const timer = setTimeout(() => up.proc.kill('SIGKILL'), timeoutMs);
    code = await exited;
    clearTimeout(timer);
  }
  started.delete(up.proc);
  // Children were stopped before weft up exited; give the kernel a moment to reap them.
  await sleep(200);
  // weft up itself too: when started through npm, up.proc is npm, and weft up could outlive it.
  const leftovers = [...up.pids(), up.lock.pid].filter((pid) => pid !== up.proc.pid && isAlive(pid));
  for (const pid of leftovers) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone meanwhile.
    }
  }
  return { code, leftovers };
}

/** removeDir deletes a test directory. */
export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true }).catch(() => undefined);
}

/** StatusDoc is the part of the controller's /v1/status the tests read. */
export interface StatusDoc {
  current: { digest: string; commit: { commit: string } | null } | null;
  lastCompile: { commit: { commit: string }; ok: boolean; diagnostics: { file: string | null; line: number; code: string; severity: string }[] } | null;
  proxies: { proxy: string; service: string; digest: string | null; state: string; lost: boolean; behind: boolean }[];
}

/** TrafficDoc is the controller's /v1/traffic. */
export interface TrafficDoc {
  samples: { t: number; requests: number; errors: number; backends: Record<string, number> }[];
}

/** proxyDigests reads each proxy's active digest from its admin /config. */
export async function proxyDigests(up: UpRun): Promise<Map<string, string | null>> {
  const out = new Map<string, string | null>();
  for (const c of up.lock.children) {
    if (!c.admin) continue;
    const cfg = await getJson<{ active: { digest: string } | null }>(`http://${c.admin}/config`);
    out.set(c.name, cfg.active?.digest ?? null);
  }
  return out;
}

/**
 * converged resolves the controller's current digest once all seven proxies are on what it
 * serves them (their Service's slice: /v1/status says active and not behind) and each proxy's
 * own /config agrees with what it reported; else undefined.
 */
export async function converged(up: UpRun, notDigest?: string): Promise<string | undefined> {
  const st = await getJson<StatusDoc>(`${up.lock.controller}/v1/status`);
  const digest = st.current?.digest;
  if (!digest || digest === notDigest) return undefined;
  const live = st.proxies.filter((p) => !p.lost);
  if (live.length < 7 || !live.every((p) => p.state === 'active' && !p.behind && p.digest !== null)) return undefined;
  const reported = new Set(live.map((p) => p.digest));
  const own = await proxyDigests(up);
  if (own.size < 7 || ![...own.values()].every((d) => reported.has(d))) return undefined;
  return digest;
}

/** trafficSince returns the samples whose second started at or after `t`. */
export async function trafficSince(up: UpRun, t: number): Promise<TrafficDoc['samples']> {
  const doc = await getJson<TrafficDoc>(`${up.lock.controller}/v1/traffic`);
  return doc.samples.filter((s) => s.t >= t);
}

/** shares folds samples into per-backend shares (0..1) plus totals. */
export function shares(samples: TrafficDoc['samples']): { requests: number; errors: number; share: Record<string, number> } {
  let requests = 0;
  let errors = 0;
  const counts: Record<string, number> = {};
  for (const s of samples) {
    requests += s.requests;
    errors += s.errors;
    for (const [k, v] of Object.entries(s.backends)) counts[k] = (counts[k] ?? 0) + v;
  }
  const served = Object.values(counts).reduce((a, b) => a + b, 0);
  const share: Record<string, number> = {};
  for (const [k, v] of Object.entries(counts)) share[k] = served ? v / served : 0;
  return { requests, errors, share };
}
