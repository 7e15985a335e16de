import type { ServiceEntry } from '../../schemas/bundle.js';

/**
 * Host resolution. A Service answers to `NAME`, `NAME.NS`, `NAME.NS.svc` and
 * `NAME.NS.svc.cluster.local`, each with or without `:PORT`. A bare `NAME` is resolved like a
 * Kubernetes DNS search path: first in the caller's namespace, then, if exactly one Service in the
 * mesh has that name, that one. Anything else is unknown (the proxy answers 404; it never forwards
 * to an address it does not know).
 */

/**
 * HostTarget is a resolved Host: the Service and the destination port. Without an explicit port
 * the port is the Service's only port when it has exactly one, else 80 (HTTP's default), so a
 * RouteMatch with `port` (from parentRef.port) applies to exactly the traffic aimed at that port.
 */
export interface HostTarget {
  readonly service: ServiceEntry;
  readonly port: number | null;
}

/** HostIndex maps lower-case host names to Services; built once per bundle, then frozen. */
export interface HostIndex {
  /** Qualified names (`NAME.NS`, `.svc`, `.svc.cluster.local`) → Service. */
  readonly qualified: ReadonlyMap<string, ServiceEntry>;
  /** `NS/NAME` → Service, for bare names in the caller's namespace. */
  readonly byNamespace: ReadonlyMap<string, ServiceEntry>;
  /** Bare NAME → the Service when exactly one in the mesh has that name. */
  readonly unique: ReadonlyMap<string, ServiceEntry>;
}

/** buildHostIndex indexes every host name of every Service. */
export function buildHostIndex(services: readonly ServiceEntry[]): HostIndex {
  const qualified = new Map<string, ServiceEntry>();
  const byNamespace = new Map<string, ServiceEntry>();
  const counts = new Map<string, ServiceEntry | null>();
  for (const s of services) {
    const name = s.name.toLowerCase();
    const ns = s.namespace.toLowerCase();
    for (const h of [`${name}.${ns}`, `${name}.${ns}.svc`, `${name}.${ns}.svc.cluster.local`]) qualified.set(h, s);
    byNamespace.set(`${ns}/${name}`, s);
    counts.set(name, counts.has(name) ? null : s);
  }
  const unique = new Map<string, ServiceEntry>();
  for (const [name, s] of counts) if (s) unique.set(name, s);
  return { qualified, byNamespace, unique };
}

/**
 * splitHostPort splits `host[:port]` (and `[v6]:port`). Returns null for a malformed port.
 * The host is lower-cased and a trailing dot removed.
 */
export function splitHostPort(host: string): { name: string; port: number | null } | null {
  let name = host;
  let port: number | null = null;
  const colon = host.lastIndexOf(':');
  if (colon !== -1 && host.charCodeAt(host.length - 1) !== 93 /* ] */) {
    const digits = host.length - colon - 1;
    if (digits < 1 || digits > 5) return null;
    port = 0;
    for (let i = colon + 1; i < host.length; i++) {
      const c = host.charCodeAt(i) - 48;
      if (c < 0 || c > 9) return null;
      port = port * 10 + c;
    }
    if (port > 65535) return null;
    name = host.slice(0, colon);
  }
  // Lower-case only when needed: most Host headers already are.
  if (/[A-Z]/.test(name)) name = name.toLowerCase();
  if (name.charCodeAt(name.length - 1) === 46 /* . */) name = name.slice(0, -1);
  return { name, port };
}

/** resolveHost finds the Service a Host names, relative to the caller's namespace; null if unknown. */
export function resolveHost(index: HostIndex, host: string, callerNamespace: string | null): HostTarget | null {
  const hp = splitHostPort(host);
  if (!hp || hp.name === '') return null;
  let service: ServiceEntry | undefined;
  if (hp.name.includes('.')) service = index.qualified.get(hp.name);
  else {
    if (callerNamespace !== null) service = index.byNamespace.get(`${callerNamespace.toLowerCase()}/${hp.name}`);
    service ??= index.unique.get(hp.name);
  }
  if (!service) return null;
  if (hp.port !== null && service.ports.length > 0 && !service.ports.some((p) => p.port === hp.port)) return null;
  const port = hp.port ?? (service.ports.length === 1 ? service.ports[0]!.port : 80);
  return { service, port };
}
