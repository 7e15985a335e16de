/**
 * The processes `weft up` starts: each is spawned in its own process group (so a Ctrl-C in the
 * terminal reaches only `weft up`, which then stops them in order), logs to its own file, and is
 * stopped with SIGTERM, then SIGKILL after a grace period. Nothing started here outlives stopAll.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';

/** ChildSpec is one process to start. */
export interface ChildSpec {
  name: string;
  command: string;
  args: string[];
  /** stdout and stderr are appended here. */
  logFile: string;
  /** Open an IPC channel (node children only). */
  ipc?: boolean;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /**
   * Stopped only after every other child has exited (the controller: proxies deregister from it,
   * and report their last status, as they stop).
   */
  stopLast?: boolean;
}

/** ManagedChild is a started process. `exited` resolves when it is gone, whatever the reason. */
export interface ManagedChild {
  readonly name: string;
  readonly pid: number;
  readonly process: ChildProcess;
  readonly logFile: string;
  readonly stopLast: boolean;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** ChildSet starts and stops the demo's processes. */
export class ChildSet {
  private readonly children: ManagedChild[] = [];
  private stopping = false;

  /** onUnexpectedExit is called when a child exits before stopAll was asked for. */
  constructor(private readonly onUnexpectedExit: (child: ManagedChild, code: number | null, signal: NodeJS.Signals | null) => void = () => {}) {}

  /** start spawns `spec`; throws when the process cannot be created at all. */
  start(spec: ChildSpec): ManagedChild {
    const fd = openSync(spec.logFile, 'a');
    let proc: ChildProcess;
    try {
      proc = spawn(spec.command, spec.args, {
        stdio: spec.ipc ? ['ignore', fd, fd, 'ipc'] : ['ignore', fd, fd],
        detached: true,
        env: { ...process.env, FORCE_COLOR: '0', ...spec.env },
      });
    } finally {
      closeSync(fd);
    }
    if (proc.pid === undefined) throw new Error(`cannot start ${spec.name}`);
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      proc.once('exit', (code, signal) => resolve({ code, signal }));
      proc.once('error', () => resolve({ code: null, signal: null }));
    });
    const child: ManagedChild = { name: spec.name, pid: proc.pid, process: proc, logFile: spec.logFile, stopLast: spec.stopLast === true, exited };
    void exited.then(({ code, signal }) => {
      if (!this.stopping) this.onUnexpectedExit(child, code, signal);
    });
    this.children.push(child);
    return child;
  }

  /** list is every child started so far, in start order. */
  list(): readonly ManagedChild[] {
    return this.children;
  }

  /**
   * stopAll stops every child still running: first those not marked `stopLast` (SIGTERM to all
   * of them, then SIGKILL to what is left after `graceMs`), then the `stopLast` ones the same way.
   * Resolves when every child has exited; at most about 2 × `graceMs`.
   */
  async stopAll(graceMs = 5000): Promise<void> {
    this.stopping = true;
    const running = [...this.children].reverse().filter((c) => c.process.exitCode === null && c.process.signalCode === null);
    await stopWave(running.filter((c) => !c.stopLast), graceMs);
    await stopWave(running.filter((c) => c.stopLast), graceMs);
  }
}

/** stopWave sends SIGTERM to `children`, waits up to `graceMs`, then SIGKILLs what is left and waits for it. */
async function stopWave(children: readonly ManagedChild[], graceMs: number): Promise<void> {
  for (const c of children) {
    try {
      c.process.kill('SIGTERM');
    } catch {
      // Already gone.
    }
  }
  let timer: NodeJS.Timeout | undefined;
  const grace = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), graceMs);
  });
  const all = Promise.all(children.map((c) => c.exited));
  const outcome = await Promise.race([all.then(() => 'done' as const), grace]);
  clearTimeout(timer);
  if (outcome === 'late') {
    for (const c of children) {
      if (c.process.exitCode === null && c.process.signalCode === null) {
        try {
          c.process.kill('SIGKILL');
        } catch {
          // Already gone.
        }
      }
    }
    await all;
  }
}
