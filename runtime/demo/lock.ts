/**
 * The `weft up` lock: one demo per directory. The lock file holds the owner's pid and, once
 * started, what it runs (dashboard URL, child pids), so a second `weft up` can say where the
 * first one is, and a lock left by a killed run is recognised as stale and cleaned up.
 */
import { open, readFile, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../atomic-write.js';

/** LockState is the lock file's JSON. */
export interface LockState {
  pid: number;
  startedAt: string;
  /** Filled in once everything runs. */
  dashboard?: string;
  controller?: string;
  /** The controller's main listener (TLS, client certificates): where `weft up --instance` registers. */
  mesh?: string;
  repo?: string;
  /** Children started by the owner (controller, proxies, apps), for stale-lock cleanup. */
  children?: { name: string; pid: number; admin?: string }[];
  ready?: boolean;
}

/** LockHeld: another live `weft up` owns the lock. */
export class LockHeld extends Error {
  override name = 'LockHeld';
  constructor(readonly holder: LockState) {
    super(`weft up is already running here (pid ${holder.pid})${holder.dashboard ? `: dashboard ${holder.dashboard}` : ''}`);
  }
}

/** isAlive tells whether `pid` runs a process this user could signal (EPERM means alive too). */
export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * looksLikeWeft guards against pid reuse: on Linux the command line must mention weft; where
 * /proc is missing the answer is "maybe", and callers only warn instead of killing.
 */
export function looksLikeWeft(pid: number): boolean | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('weft');
  } catch {
    return isAlive(pid) ? null : false;
  }
}

function parseLock(text: string): LockState | null {
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v === 'object' && v !== null && typeof (v as LockState).pid === 'number') return v as LockState;
  } catch {
    // A torn or foreign file is treated as stale.
  }
  return null;
}

/** readLockState reads the lock file at `file`; null when there is none or it is not a lock. */
export async function readLockState(file: string): Promise<LockState | null> {
  try {
    return parseLock(await readFile(file, 'utf8'));
  } catch {
    return null;
  }
}

/** DemoLock is a held lock: update it as the demo comes up, release it on the way out. */
export class DemoLock {
  private state: LockState;
  private released = false;
  constructor(
    readonly file: string,
    state: LockState,
  ) {
    this.state = state;
  }

  /** update merges `patch` into the lock file (atomically, so readers never see half of it). */
  async update(patch: Partial<LockState>): Promise<void> {
    if (this.released) return;
    this.state = { ...this.state, ...patch };
    await writeFileAtomic(this.file, JSON.stringify(this.state, null, 2) + '\n');
  }

  /** release removes the lock file if it is still ours. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    try {
      const current = parseLock(await readFile(this.file, 'utf8'));
      if (current?.pid === process.pid) await rm(this.file, { force: true });
    } catch {
      // Already gone.
    }
  }
}

/** StaleLock describes a lock left behind by a run that no longer exists. */
export interface StaleLock {
  state: LockState;
  /** Children of that run still alive and recognisably ours: they were stopped now. */
  stopped: number[];
}

/**
 * acquireLock takes the lock at `file` (O_EXCL create). A live holder → LockHeld. A stale lock
 * (its pid is gone) is removed, its leftover children are stopped, and `onStale` hears about it.
 */
export async function acquireLock(file: string, onStale: (s: StaleLock) => void = () => {}): Promise<DemoLock> {
  const state: LockState = { pid: process.pid, startedAt: new Date().toISOString() };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await open(file, 'wx');
      await fh.writeFile(JSON.stringify(state, null, 2) + '\n');
      await fh.close();
      return new DemoLock(file, state);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let text = '';
    try {
      text = await readFile(file, 'utf8');
    } catch {
      continue; // Released between our open and read: try again.
    }
    const holder = parseLock(text);
    if (holder && holder.pid !== process.pid && isAlive(holder.pid) && looksLikeWeft(holder.pid) !== false) {
      throw new LockHeld(holder);
    }
    const stopped: number[] = [];
    for (const child of holder?.children ?? []) {
      if (isAlive(child.pid) && looksLikeWeft(child.pid) === true) {
        try {
          process.kill(child.pid, 'SIGTERM');
          stopped.push(child.pid);
        } catch {
          // Exited meanwhile.
        }
      }
    }
    // Their inbound ports are the ones this run needs: wait (bounded) until they are gone.
    for (let i = 0; i < 50 && stopped.some(isAlive); i++) await new Promise((r) => setTimeout(r, 100));
    await rm(file, { force: true });
    if (holder) onStale({ state: holder, stopped });
  }
  throw new Error(`cannot take the lock ${file}`);
}
