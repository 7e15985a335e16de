/**
 * The discovery protocol's documents (docs/discovery.md, docs/protocol.md), shared by the
 * controller (which serves them) and the proxy (which speaks them). Pure types, constants and
 * shape checks: the proxy imports this file and nothing else of the controller side.
 *
 *   PUT    /v1/endpoints/self   ← RegistrationRequest   → RegistrationResponse  (lease renewal)
 *   DELETE /v1/endpoints/self   ← {address, port}       → 204                   (deregistration)
 *   GET    /v1/endpoints?service=NS/NAME[&service=…]    → EndpointsResponse     (long-poll)
 */

/** LEASE_MS is how long a registration lives without a heartbeat (Consul's TTL check, 3 periods). */
export const LEASE_MS = 15_000;
/** HEARTBEAT_MS is how often a proxy renews its lease: a third of the lease, so two may be lost. */
export const HEARTBEAT_MS = 5_000;
/** MAX_SERVICES_PER_POLL bounds the Services one long-poll may name (If-None-Match stays small). */
export const MAX_SERVICES_PER_POLL = 256;

/**
 * DiscoveredEndpoint is one registered instance as the endpoint stream carries it. Registered
 * endpoints are always meshed: a Weft inbound listener, reached with mTLS, whose certificate
 * must name the Service.
 */
export interface DiscoveredEndpoint {
  address: string;
  port: number;
  labels: Record<string, string>;
  /** False while the instance's app fails its health probe: listed, but given no traffic. */
  ready: boolean;
  meshed: true;
  /** The registering proxy's id (informational: logs, `weft status`). */
  instance: string;
}

/**
 * EndpointSet is the full set of one Service's registered instances. `version` is a content hash
 * (the set's ETag): equal sets have equal versions, across controller restarts too.
 */
export interface EndpointSet {
  /** `namespace/name`, the bundle's Service id. */
  service: string;
  version: string;
  /**
   * False while the controller warms up after a restart (one lease): instances are still
   * re-registering, so a proxy keeps what it knew and adds what it is told, removing nothing.
   */
  complete: boolean;
  /** Sorted by address then port. */
  endpoints: DiscoveredEndpoint[];
}

/** EndpointsResponse answers GET /v1/endpoints: the full set of every named Service that changed. */
export interface EndpointsResponse {
  sets: EndpointSet[];
}

/**
 * RegistrationRequest is the body of PUT /v1/endpoints/self. The Service comes from the client
 * certificate; `service`/`namespace` are read only from a controller running `--insecure`.
 */
export interface RegistrationRequest {
  instance: string;
  address: string;
  port: number;
  labels: Record<string, string>;
  ready: boolean;
  service?: string;
  namespace?: string;
}

/** RegistrationResponse tells the proxy its lease: renew every `heartbeatMs`, gone after `leaseMs`. */
export interface RegistrationResponse {
  service: string;
  leaseMs: number;
  heartbeatMs: number;
}

/** serviceIdOf is the bundle id of a Service: `namespace/name`. */
export function serviceIdOf(name: string, namespace: string): string {
  return `${namespace}/${name}`;
}

/** isEndpointSet checks one set as it comes from a file or the network (the protocol's shape). */
export function isEndpointSet(s: unknown): s is EndpointSet {
  const x = s as EndpointSet;
  return (
    typeof x === 'object' && x !== null && typeof x.service === 'string' && typeof x.version === 'string' && typeof x.complete === 'boolean' &&
    Array.isArray(x.endpoints) &&
    x.endpoints.every(
      (e) =>
        typeof e === 'object' && e !== null && typeof e.address === 'string' && Number.isInteger(e.port) && e.port > 0 && e.port < 65536 &&
        typeof e.ready === 'boolean' && typeof e.labels === 'object' && e.labels !== null && Object.values(e.labels).every((v) => typeof v === 'string'),
    )
  );
}
