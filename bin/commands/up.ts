/**
 * weft up: the local demo mesh on the example policies (what `npm start` runs). Parses flags
 * and hands over to runtime/demo/demo.ts.
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Command } from '../cli.js';
import { UsageError, durationFlag, parseFlags } from '../cli.js';
import { runDemo } from '../../runtime/demo/demo.js';
import { runInstance } from '../../runtime/demo/instance.js';
import { DemoError } from '../../runtime/demo/errors.js';
import { examplePolicies } from '../../runtime/demo/package-root.js';

const HELP = `weft up: run a live local mesh on the example policies, driven by a real git repository.

Usage: weft up [--policies DIR] [--rate N] [--duration D] [--port N] [--pick-ports]
       weft up --instance SERVICE [--drain-delay D] [--duration D]

Starts, on loopback: a controller watching .weft/demo/ (a git repository seeded from the
policies on first run, reused afterwards), the demo apps (productpage, details, details-shadow,
reviews v1/v2/v3, ratings), one weft proxy per app, and steady traffic to productpage. Prints
the dashboard URL and the commands to try; commit in .weft/demo/ and watch the mesh follow.
Ctrl-C stops every process it started; the repository stays for next time.

Options:
  --policies DIR   policies to seed the repository from on its first run (default: the package's policies/)
  --rate N         requests per second to productpage, 1..500 (default 25)
  --duration D     stop after D (30s, 2m, ...); default: run until Ctrl-C
  --port N         preferred controller/dashboard port (default 15010; another if busy)
  --pick-ports     seed endpoints on fresh free ports even if the declared ones are free
                   (to run several demos at once, as the tests do)

One more instance, next to a running weft up (in another terminal, same directory):
  --instance SERVICE  start another instance of a demo Service (e.g. reviews-v2): its app and a
                   weft proxy that registers it with the controller; callers spread the Service's
                   traffic over every instance. Runs in the foreground; Ctrl-C stops it the way a
                   pod stops: the proxy deregisters, serves --drain-delay more, drains, exits
  --drain-delay D  with --instance: how long its proxy keeps serving after deregistering (default 5s)

Files: .weft/demo (repository), .weft/logs/*.log (one per process), .weft/store (bundles),
.weft/cache (proxies' last good bundles), .weft/up.lock (the running demo: pid, URLs, children).

Exit codes: 0 stopped by Ctrl-C/SIGTERM or --duration, 1 the demo could not start or a process
died, 2 usage error.`;

/** command is `weft up`. */
export const command: Command = {
  summary: 'run the local demo mesh (controller, proxies, apps, traffic, dashboard)',
  help: HELP,
  async run(argv) {
    const { values, positionals } = parseFlags('weft up', {
      args: argv,
      options: {
        policies: { type: 'string' },
        rate: { type: 'string', default: '25' },
        duration: { type: 'string' },
        port: { type: 'string', default: '15010' },
        'pick-ports': { type: 'boolean', default: false },
        instance: { type: 'string' },
        'drain-delay': { type: 'string' },
      },
      allowPositionals: true,
      strict: true,
    });
    if (positionals.length > 0) throw new UsageError(`weft up takes no arguments (got "${positionals[0]}")`);
    const rate = Number(values.rate);
    if (!Number.isInteger(rate) || rate < 1 || rate > 500) throw new UsageError(`--rate must be a whole number from 1 to 500 (got "${values.rate}")`);
    const port = Number(values.port);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`--port must be a port number (got "${values.port}")`);
    let durationMs: number | null = null;
    if (values.duration !== undefined) {
      durationMs = durationFlag('--duration', values.duration);
      if (durationMs <= 0) throw new UsageError(`--duration must be a duration such as 30s or 2m (got "${values.duration}")`);
    }
    const cwd = process.cwd();
    if (values.instance !== undefined) {
      const other = (['policies', 'pick-ports'] as const).find((k) => values[k] !== undefined && values[k] !== false);
      if (other || argv.some((a) => /^--(rate|port)(=|$)/.test(a))) throw new UsageError('--instance takes only --drain-delay and --duration');
      const drainDelayMs = durationFlag('--drain-delay', values['drain-delay'] ?? '5s');
      try {
        return await runInstance({ cwd, service: values.instance, durationMs, drainDelayMs, out: process.stdout, err: process.stderr });
      } catch (err) {
        if (err instanceof DemoError) {
          process.stderr.write(`weft up: ${err.message}\n`);
          return 1;
        }
        throw err;
      }
    }
    if (values['drain-delay'] !== undefined) throw new UsageError('--drain-delay goes with --instance');
    if (values.policies !== undefined) {
      const dir = path.resolve(cwd, values.policies);
      let isDir: boolean;
      try {
        isDir = statSync(dir).isDirectory();
      } catch (err) {
        throw new UsageError(`--policies ${values.policies}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such folder' : (err as Error).message}`);
      }
      if (!isDir) throw new UsageError(`--policies ${values.policies}: not a folder (give the folder of policy files to seed the demo from)`);
      // Seeding happens once: a later --policies would otherwise be ignored without a word.
      if (existsSync(path.join(cwd, '.weft', 'demo', '.git'))) process.stderr.write(`weft up: note: .weft/demo already exists and is reused; --policies only seeds a new one (delete .weft/ to reseed from ${values.policies})\n`);
    }
    try {
      return await runDemo({
        cwd,
        policies: values.policies !== undefined ? path.resolve(cwd, values.policies) : examplePolicies(),
        rate,
        durationMs,
        pickPorts: values['pick-ports'] === true,
        controllerPort: port,
        out: process.stdout,
        err: process.stderr,
      });
    } catch (err) {
      if (err instanceof DemoError) {
        process.stderr.write(`weft up: ${err.message}\n`);
        return 1;
      }
      throw err;
    }
  },
};
