/**
 * GitObjectReader reads objects of one repository through a single long-lived `git cat-file
 * --batch` process (git-cat-file(1), "BATCH OUTPUT"). A long-lived compiler (the controller,
 * through CompileMemo) reads a commit, a few trees and the changed blobs per commit with it,
 * instead of starting several git processes per commit: starting a process from a large Node
 * heap costs milliseconds of the main thread each, and on a loaded machine every process also
 * waits for a core before it answers.
 *
 * Requests are pipelined: each `read` writes one object name; answers come back in order. Only
 * object ids and `<id>^{commit}` / `<id>^{tree}` / `<id>:<path>` names are asked, which git
 * resolves without reading refs, so a process that outlives many commits answers exactly what a
 * fresh one would (new objects are found: git looks again when an object is not yet known).
 *
 * Bounded: a request that gets no answer within `timeoutMs` kills the process and fails every
 * pending request; the next `read` starts a new process. The process does not keep Node alive
 * while nothing is pending, and exits when its stdin closes (when Node exits).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import type { Socket } from 'node:net';

/** GitObject is one object as `cat-file --batch` printed it; `bytes` is null when over the caller's limit. */
export interface GitObject {
  oid: string;
  type: string;
  size: number;
  bytes: Buffer | null;
}

interface Pending {
  name: string;
  maxBytes: number;
  resolve: (o: GitObject | null) => void;
  reject: (err: Error) => void;
}

/** GitObjectReader: see the file comment. */
export class GitObjectReader {
  private proc: ChildProcessWithoutNullStreams | null = null;
  private pending: Pending[] = [];
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** The object being received: its header, and how many content bytes (+ LF) are still due. */
  private current: { oid: string; type: string; size: number; keep: boolean; due: number } | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    readonly top: string,
    private readonly timeoutMs = 120_000,
  ) {}

  /**
   * read returns the object `name` names, or null when git says it is missing (or ambiguous).
   * Content over `maxBytes` is skipped, not buffered: `bytes` is then null and `size` says how
   * large it is. Rejects when git fails or does not answer in time.
   */
  read(name: string, maxBytes = Infinity): Promise<GitObject | null> {
    if (name.includes('\n') || name === '') return Promise.reject(new Error(`not an object name: ${JSON.stringify(name)}`));
    const proc = this.start();
    return new Promise((resolve, reject) => {
      this.pending.push({ name, maxBytes, resolve, reject });
      if (this.pending.length === 1) this.busy(true);
      proc.stdin.write(`${name}\n`);
    });
  }

  /** close ends the process; pending reads fail. */
  close(): void {
    this.fail(new Error('git object reader closed'));
  }

  private start(): ChildProcessWithoutNullStreams {
    if (this.proc) return this.proc;
    const proc = spawn('git', ['-C', this.top, 'cat-file', '--batch'], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc = proc;
    this.chunks = [];
    this.buffered = 0;
    this.current = null;
    let stderr = '';
    proc.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < 4096) stderr += d;
    });
    proc.stdout.on('data', (d: Buffer) => this.receive(d));
    proc.on('error', (err) => this.fail(err, proc));
    proc.on('exit', (code, signal) => this.fail(new Error(`git cat-file exited (${signal ?? code})${stderr ? `: ${stderr.trim().split('\n')[0]}` : ''}`), proc));
    proc.stdin.on('error', () => undefined);
    this.busy(false);
    return proc;
  }

  /** busy refs the process while reads are pending (and arms the timeout), unrefs it when idle. */
  private busy(on: boolean): void {
    const proc = this.proc;
    if (!proc) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const out = proc.stdout as unknown as Socket;
    if (on) {
      proc.ref();
      out.ref();
      this.timer = setTimeout(() => this.fail(new Error(`git cat-file gave no answer in ${this.timeoutMs} ms`)), this.timeoutMs);
    } else {
      proc.unref();
      out.unref();
      (proc.stderr as unknown as Socket).unref();
      (proc.stdin as unknown as Socket).unref();
    }
  }

  private fail(err: Error, which?: ChildProcessWithoutNullStreams): void {
    if (which && which !== this.proc) return;
    const proc = this.proc;
    this.proc = null;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const pending = this.pending;
    this.pending = [];
    this.chunks = [];
    this.buffered = 0;
    this.current = null;
    if (proc) {
      proc.stdout.removeAllListeners('data');
      proc.stdin.end();
      if (proc.exitCode === null && proc.signalCode === null) proc.kill();
    }
    for (const p of pending) p.reject(err);
  }

  private receive(d: Buffer): void {
    this.chunks.push(d);
    this.buffered += d.length;
    for (;;) {
      const head = this.pending[0];
      if (!head) {
        // Output nobody asked for: the stream is out of step, start again.
        if (this.buffered > 0) this.fail(new Error('git cat-file printed more than was asked'));
        return;
      }
      if (!this.current) {
        const buf = this.joined();
        const nl = buf.indexOf(0x0a);
        if (nl < 0) return;
        const header = buf.toString('utf8', 0, nl);
        this.consume(nl + 1);
        const m = /^([0-9a-f]{40,64}) (\w+) (\d+)$/.exec(header);
        if (!m) {
          // "<name> missing" or "<name> ambiguous": no content follows.
          this.pending.shift();
          head.resolve(null);
          this.settle();
          continue;
        }
        const size = Number(m[3]);
        this.current = { oid: m[1]!, type: m[2]!, size, keep: size <= head.maxBytes, due: size + 1 };
      }
      const cur = this.current;
      let bytes: Buffer | null = null;
      if (cur.keep) {
        // Content, then one LF.
        if (this.buffered < cur.due) return;
        bytes = Buffer.from(this.joined().subarray(0, cur.size));
        this.consume(cur.due);
      } else {
        // Skipped content is dropped as it arrives, never held whole.
        const n = Math.min(this.buffered, cur.due);
        this.consume(n);
        cur.due -= n;
        if (cur.due > 0) return;
      }
      this.current = null;
      this.pending.shift();
      head.resolve({ oid: cur.oid, type: cur.type, size: cur.size, bytes });
      this.settle();
    }
  }

  /** joined is the buffered output as one Buffer. */
  private joined(): Buffer {
    if (this.chunks.length !== 1) this.chunks = [Buffer.concat(this.chunks, this.buffered)];
    return this.chunks[0]!;
  }

  /** consume drops the first `n` buffered bytes. */
  private consume(n: number): void {
    const rest = this.joined().subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
  }

  private settle(): void {
    if (this.pending.length === 0) this.busy(false);
    else this.busy(true);
  }
}

/** TreeEntry is one entry of a git tree object. `mode` as git writes it (`40000` is a tree). */
export interface TreeEntry {
  mode: string;
  name: string;
  oid: string;
}

/**
 * parseTree reads a tree object's entries: `<mode> SP <name> NUL <raw id>` each, the id
 * `idBytes` long (20 for SHA-1 repositories, 32 for SHA-256). Names are UTF-8.
 */
export function parseTree(bytes: Buffer, idBytes: number): TreeEntry[] {
  const out: TreeEntry[] = [];
  let at = 0;
  while (at < bytes.length) {
    const sp = bytes.indexOf(0x20, at);
    const nul = bytes.indexOf(0x00, sp + 1);
    if (sp < 0 || nul < 0 || nul + 1 + idBytes > bytes.length) throw new Error('malformed tree object');
    out.push({ mode: bytes.toString('latin1', at, sp), name: bytes.toString('utf8', sp + 1, nul), oid: bytes.toString('hex', nul + 1, nul + 1 + idBytes) });
    at = nul + 1 + idBytes;
  }
  return out;
}
