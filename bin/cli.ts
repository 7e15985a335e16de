/**
 * The shapes every CLI command shares: a command module exports `command: Command`, and errors
 * a user can cause are UsageError (exit 2, one line, no stack trace).
 */
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
