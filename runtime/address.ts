/**
 * The one parser and printer for TCP addresses on the command line (listen, admin, advertise):
 * `HOST:PORT`, `[V6]:PORT`, `:PORT` or `PORT`. Port 0 asks the OS for a free port.
 */

/** HostPort is a TCP address: `host` without brackets (an IPv6 literal is bare), `port` 0-65535. */
export interface HostPort {
  host: string;
  port: number;
}

const WITH_HOST = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]*)):(\d{1,5})$/;
const PORT_ONLY = /^\d{1,5}$/;

/**
 * parseHostPort reads `HOST:PORT`, `[V6]:PORT`, `:PORT` or `PORT` (surrounding spaces ignored);
 * an empty host is `defaultHost`. Null when malformed or the port is over 65535; never throws.
 */
export function parseHostPort(text: string, defaultHost: string): HostPort | null {
  const t = text.trim();
  let host: string;
  let port: number;
  if (PORT_ONLY.test(t)) {
    host = defaultHost;
    port = Number(t);
  } else {
    const m = WITH_HOST.exec(t);
    if (!m) return null;
    host = m[1] ?? (m[2] || defaultHost);
    port = Number(m[3]);
  }
  return port <= 65535 ? { host, port } : null;
}

/** formatHostPort prints `host:port`, with brackets around an IPv6 literal (`[::1]:15000`). */
export function formatHostPort(a: HostPort): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
