/**
 * The shapes every CLI command shares: a command module exports `command: Command`, and errors
 * a user can cause are UsageError (exit 2, one line, no stack trace).
 */
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
