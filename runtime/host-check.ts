/**
 * The Host check of the controller's dashboard listener and of a proxy's admin listener bound to
 * loopback, against DNS rebinding: a web page on evil.example can make
 * its own name resolve to 127.0.0.1 and then read a loopback listener as same-origin. The browser
 * still sends `Host: evil.example`, so the listener answers only Host values that name this
 * machine: IP literals (a rebinding page cannot have one as its origin), `localhost` and
 * `*.localhost` (RFC 6761), this machine's host name, and the names an operator adds with
 * `--dashboard-host`. A request without Host (HTTP/1.0 tools) is answered: browsers always send it.
 */
import { isIP } from 'node:net';
import { hostname } from 'node:os';

/** HostCheck answers whether a request's Host header value may be served. */
export type HostCheck = (host: string | undefined) => boolean;

/**
 * dashboardHostCheck builds the check for `extra` names (lower-cased, no port; `*.example.com`
 * allows every name under example.com). Names are compared case-insensitively, ports ignored.
 */
export function dashboardHostCheck(extra: readonly string[] = []): HostCheck {
  const names = new Set([hostname().toLowerCase(), 'localhost', ...extra.filter((n) => !n.startsWith('*.')).map((n) => n.toLowerCase())]);
  const suffixes = ['.localhost', ...extra.filter((n) => n.startsWith('*.')).map((n) => n.slice(1).toLowerCase())];
  return (host) => {
    if (host === undefined || host === '') return true;
    const name = hostName(host);
    if (name === null) return false;
    if (isIP(name) !== 0) return true;
    const lower = name.toLowerCase().replace(/\.$/, '');
    return names.has(lower) || suffixes.some((s) => lower.endsWith(s) && lower.length > s.length);
  };
}

/**
 * hostName is the name part of a Host value (`[::1]:8080` → `::1`, `a.b:80` → `a.b`); null if
 * malformed. What follows the name may only be a port (RFC 9110 §7.2, `uri-host [ ":" port ]`):
 * `localhost:80@evil.example` is malformed, not `localhost`.
 */
function hostName(host: string): string | null {
  let name: string;
  let rest: string;
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    if (end <= 1) return null;
    name = host.slice(1, end);
    rest = host.slice(end + 1);
  } else {
    const colon = host.indexOf(':');
    name = colon === -1 ? host : host.slice(0, colon);
    rest = colon === -1 ? '' : host.slice(colon);
  }
  if (rest !== '' && !/^:\d{0,5}$/.test(rest)) return null;
  return name === '' ? null : name;
}

/** isLoopbackAddress: a listen address only this machine can reach (127.0.0.0/8, ::1, localhost). */
export function isLoopbackAddress(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === '::ffff:127.0.0.1';
}
