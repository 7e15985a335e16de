/**
 * The shapes every CLI command shares: a command module exports `command: Command`, and errors
 * a user can cause are UsageError (exit 2, one line, no stack trace).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { didYouMean } from '../compiler/did-you-mean.js';
import { parseDuration } from '../compiler/duration.js';
import { parseHostPort, type HostPort } from '../runtime/address.js';

export interface Command {
  /** One line shown by `weft --help`. */
  summary: string;
  /** Full `--help` text: usage, options, exit codes. */
  help: string;
  /** Runs the command; resolves to the process exit code (0 ok, 1 findings, 2 usage/internal). */
  run(argv: string[]): Promise<number>;
}

/** UsageError is a mistake on the command line: printed as one line, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/**
 * durationFlag reads a flag's Gateway API duration (GEP-2257: `30s`, `250ms`, `1h30m`; the
 * grammar policies use, compiler/duration.ts) into milliseconds; a malformed one is a UsageError.
 */
export function durationFlag(flag: string, text: string): number {
  const ms = parseDuration(text);
  if (ms === null) throw new UsageError(`${flag}: expected a duration such as 30s, 250ms or 1m30s, got "${text}"`);
  return ms;
}

/**
 * addressFlag reads a flag's `HOST:PORT`, `[V6]:PORT`, `:PORT` or `PORT` (runtime/address.ts);
 * an empty host is `defaultHost`. A malformed one is a UsageError.
 */
export function addressFlag(flag: string, text: string, defaultHost: string): HostPort {
  const a = parseHostPort(text, defaultHost);
  if (a === null) throw new UsageError(`${flag}: expected HOST:PORT, [V6]:PORT or PORT, got "${text}"`);
  return a;
}

/**
 * parseFlags is util.parseArgs (same config, same result) with user-facing errors: an unknown
 * flag, a flag without its value, a value given to a switch or a stray argument becomes one
 * UsageError line that names the flag and, for a misspelling, the flag meant ("unknown option
 * --formt; did you mean --format?"). Node's own messages (unbalanced quotes, advice about `--`)
 * never reach the user. `command` names the command in messages ("weft validate").
 */
export function parseFlags<T extends ParseArgsConfig & { args: string[] }>(command: string, config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (err) {
    throw flagError(command, config.args, config.options ?? {}, err);
  }
}

type FlagOptions = NonNullable<ParseArgsConfig['options']>;

function flagError(command: string, argv: string[], options: FlagOptions, err: unknown): Error {
  const code = err instanceof Error && 'code' in err ? String(err.code) : '';
  if (!code.startsWith('ERR_PARSE_ARGS')) return err instanceof Error ? err : new Error(String(err));
  const message = err instanceof Error ? err.message : String(err);
  const flag = /'(-{1,2}[^' <]+)/.exec(message)?.[1] ?? '';
  const longs = Object.keys(options).map((n) => `--${n}`);
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const name = flag.replace(/=.*$/, '');
    const guess = name.startsWith('--') ? didYouMean(name, longs) : null;
    return new UsageError(`unknown option ${name}${guess ? `; did you mean ${guess}?` : ''} (${command} --help lists the options)`);
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const name = flag.replace(/=.*$/, '');
    const option = options[name.replace(/^-+/, '')] ?? Object.values(options).find((o) => o.short === name.replace(/^-/, ''));
    if (option?.type === 'boolean') return new UsageError(`${name} is a switch and takes no value (${command} --help)`);
    const at = argv.indexOf(name);
    const next = at >= 0 ? argv[at + 1] : undefined;
    if (next !== undefined) return new UsageError(`${name} needs a value, but is followed by the option ${next} (write ${name}=${next} if the value starts with a dash)`);
    return new UsageError(`${name} needs a value (${command} --help)`);
  }
  if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
    const extra = /'([^']*)'/.exec(message)?.[1] ?? '';
    return new UsageError(`unexpected argument "${extra}": ${command} takes options only (${command} --help)`);
  }
  return new UsageError(`${message.split('\n')[0]} (${command} --help)`);
}
