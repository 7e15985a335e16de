#!/usr/bin/env node
/**
 * weft: the command-line entry. Parses only the command name; each command parses its own
 * flags (util.parseArgs) in bin/commands/<name>.ts, loaded on demand so `weft validate` never
 * loads the proxy.
 */
import type { Command } from './cli.js';
import { UsageError } from './cli.js';

const COMMANDS: Record<string, () => Promise<{ command: Command }>> = {
  validate: () => import('./commands/validate.js'),
  compile: () => import('./commands/compile.js'),
  proxy: () => import('./commands/proxy.js'),
  controller: () => import('./commands/controller.js'),
  keygen: () => import('./commands/keygen.js'),
  ca: () => import('./commands/ca.js'),
  token: () => import('./commands/token.js'),
  status: () => import('./commands/status.js'),
  diff: () => import('./commands/diff.js'),
  test: () => import('./commands/test.js'),
  up: () => import('./commands/up.js'),
  explain: () => import('./commands/explain.js'),
};

/** topHelp lists every command with its one-line summary (loading them all is fine for --help). */
async function topHelp(): Promise<string> {
  const names = Object.keys(COMMANDS);
  const width = Math.max(...names.map((n) => n.length));
  const lines = await Promise.all(names.map(async (name) => `  ${name.padEnd(width)}  ${(await COMMANDS[name]!()).command.summary}`));
  return [
    'weft: a GitOps service mesh. Usage: weft <command> [options]   (weft <command> --help for more)',
    '',
    ...lines,
    '',
    'Exit codes: 0 success, 1 findings or failures, 2 usage or internal error.',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    // No command at all is a usage error: the list goes to stderr, and stdout stays empty.
    (name === undefined ? process.stderr : process.stdout).write((await topHelp()) + '\n');
    return name === undefined ? 2 : 0;
  }
  if (name === '--version') {
    process.stdout.write('weft 0.1.0\n');
    return 0;
  }
  const load = COMMANDS[name];
  if (!load) throw new UsageError(`unknown command "${name}" (try weft --help)`);
  const { command } = await load();
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(command.help.trimEnd() + '\n');
    return 0;
  }
  return command.run(rest);
}

const debug = process.argv.includes('--debug') || !!process.env.WEFT_DEBUG;
main(process.argv.slice(2).filter((a) => a !== '--debug')).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError || (err instanceof Error && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS'))) {
      process.stderr.write(`weft: ${err.message}\n`);
    } else {
      const msg = err instanceof Error ? err.message : String(err);
      process.stderr.write(`weft: internal error: ${msg}${debug ? '' : ' (run with --debug for details)'}\n`);
      if (debug && err instanceof Error && err.stack) process.stderr.write(err.stack + '\n');
    }
    process.exitCode = 2;
  },
);
