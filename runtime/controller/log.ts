/**
 * Logger writes one JSON object per line to stderr (stdout stays free for machine output).
 * Every line has `time` (ISO 8601), `level` and `msg`; extra fields are merged in.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void;
}

/** jsonLogger writes JSON lines to `out` (stderr by default); debug lines only when `debug`. */
export function jsonLogger(opts: { debug?: boolean; out?: NodeJS.WritableStream } = {}): Logger {
  const out = opts.out ?? process.stderr;
  return {
    log(level, msg, fields) {
      if (level === 'debug' && !opts.debug) return;
      out.write(JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields }) + '\n');
    },
  };
}

/** silentLogger drops everything (tests, library use). */
export const silentLogger: Logger = { log() {} };
