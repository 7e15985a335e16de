/**
 * parseDuration reads a flag duration such as `30s`, `250ms`, `1m30s` or `2h` (Gateway API
 * style units h, m, s, ms) into milliseconds; null when malformed. A bare number is seconds.
 */
export function parseDuration(text: string): number | null {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Math.round(Number(t) * 1000);
  if (!/^(\d+(\.\d+)?(h|m|s|ms))+$/.test(t)) return null;
  const unit: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
  let ms = 0;
  for (const m of t.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)) ms += Number(m[1]) * (unit[m[2] ?? 's'] ?? 0);
  return Math.round(ms);
}

/** parseListen reads `host:port`, `:port`, `port` or `[v6]:port`; null when malformed. */
export function parseListen(text: string, defaultHost = '0.0.0.0'): { host: string; port: number } | null {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*))?:?(\d{1,5})$/.exec(text.trim());
  if (!m) return null;
  const port = Number(m[3]);
  if (port > 65535) return null;
  return { host: m[1] ?? (m[2] || defaultHost), port };
}
