/**
 * The one log shape of every Weft process (proxy, controller, demo): one JSON object per line on
 * stderr (stdout stays free for machine output and access logs). Every line has `time` (ISO 8601),
 * `level` and `msg`, a short fixed phrase ("listening", "bundle active", "stopping") that tools
 * match on; the details are extra fields merged in after them.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Logger is what every component logs through; `fields` never override time, level or msg. */
export interface Logger {
  log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void;
}

/** jsonLogger writes JSON lines to `out` (stderr by default); debug lines only when `debug`. */
export function jsonLogger(opts: { debug?: boolean; out?: NodeJS.WritableStream } = {}): Logger {
  const out = opts.out ?? process.stderr;
  return {
    log(level, msg, fields) {
      if (level === 'debug' && !opts.debug) return;
      const line: Record<string, unknown> = { time: new Date().toISOString(), level, msg };
      for (const [k, v] of Object.entries(fields ?? {})) if (!(k in line)) line[k] = v;
      out.write(JSON.stringify(line) + '\n');
    },
  };
}

/** silentLogger drops everything (tests, library use). */
export const silentLogger: Logger = { log() {} };
