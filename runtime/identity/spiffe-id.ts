import { IdentityError } from './errors.js';

/**
 * SPIFFE IDs, as the SPIFFE ID specification (spiffe/standards SPIFFE-ID.md) defines them:
 * `spiffe://<trust-domain>/<path>`, scheme lower case, trust domain of [a-z0-9.-_] (no port,
 * no user info, no upper case), path segments of [A-Za-z0-9.-_] that are neither empty, `.` nor
 * `..`, no trailing slash, no query or fragment, and 2048 bytes at most. Parsing never
 * normalises: an ID that would need it is refused, so one identity has exactly one spelling.
 *
 * Weft's workload IDs use the Istio-style path `/ns/<namespace>/sa/<service>`.
 */

/** MAX_SPIFFE_ID_BYTES is the SPIFFE ID spec's limit on the whole URI. */
export const MAX_SPIFFE_ID_BYTES = 2048;
/** DEFAULT_TRUST_DOMAIN is what `weft ca init` uses without --trust-domain. */
export const DEFAULT_TRUST_DOMAIN = 'weft.local';

/** SpiffeId is a parsed SPIFFE ID: `uri` is its one spelling, `path` starts with `/` or is empty. */
export interface SpiffeId {
  readonly trustDomain: string;
  readonly path: string;
  readonly uri: string;
}

/** WorkloadId is a SPIFFE ID of the form `/ns/<namespace>/sa/<service>`: a mesh Service's identity. */
export interface WorkloadId extends SpiffeId {
  readonly namespace: string;
  readonly service: string;
}

const TRUST_DOMAIN = /^[a-z0-9._-]+$/;
const SEGMENT = /^[A-Za-z0-9._-]+$/;
/** Namespace and Service names are Kubernetes DNS labels (the policy schemas use the same rule). */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** isTrustDomain tells whether `name` is a valid trust domain name (SPIFFE ID spec §2.1). */
export function isTrustDomain(name: string): boolean {
  return name.length > 0 && name.length <= 255 && TRUST_DOMAIN.test(name);
}

/** checkTrustDomain returns `name` or throws IdentityError WEFT_ID_TRUST_DOMAIN. */
export function checkTrustDomain(name: string): string {
  if (!isTrustDomain(name)) {
    throw new IdentityError('WEFT_ID_TRUST_DOMAIN', `"${name}" is not a trust domain name (lower-case letters, digits, ".", "-" and "_" only, e.g. weft.local)`, 400);
  }
  return name;
}

/** parseSpiffeId parses `uri` strictly (rules above); throws IdentityError WEFT_ID_SPIFFE_ID. */
export function parseSpiffeId(uri: string): SpiffeId {
  const bad = (why: string): IdentityError => new IdentityError('WEFT_ID_SPIFFE_ID', `"${uri.slice(0, 120)}" is not a SPIFFE ID: ${why}`, 400);
  if (Buffer.byteLength(uri) > MAX_SPIFFE_ID_BYTES) throw bad(`longer than ${MAX_SPIFFE_ID_BYTES} bytes`);
  if (!uri.startsWith('spiffe://')) throw bad('the scheme must be spiffe:// (lower case)');
  const rest = uri.slice('spiffe://'.length);
  const slash = rest.indexOf('/');
  const trustDomain = slash < 0 ? rest : rest.slice(0, slash);
  const path = slash < 0 ? '' : rest.slice(slash);
  if (trustDomain === '') throw bad('the trust domain is empty');
  if (!TRUST_DOMAIN.test(trustDomain)) throw bad('the trust domain may hold only lower-case letters, digits, ".", "-" and "_" (no port, no user info)');
  if (path !== '') {
    const segments = path.slice(1).split('/');
    for (const s of segments) {
      if (s === '') throw bad('empty path segment (or a trailing slash)');
      if (s === '.' || s === '..') throw bad('"." and ".." path segments are not allowed');
      if (!SEGMENT.test(s)) throw bad('path segments may hold only letters, digits, ".", "-" and "_" (no query, no fragment, no percent-encoding)');
    }
  }
  return Object.freeze({ trustDomain, path, uri });
}

/** formatSpiffeId builds the URI of `trustDomain` and path segments, checking both. */
export function formatSpiffeId(trustDomain: string, ...segments: string[]): string {
  return parseSpiffeId(`spiffe://${trustDomain}${segments.map((s) => `/${s}`).join('')}`).uri;
}

/** workloadId is the identity of Service `service` in `namespace`: `spiffe://<td>/ns/<ns>/sa/<service>`. */
export function workloadId(trustDomain: string, namespace: string, service: string): WorkloadId {
  if (!DNS_LABEL.test(namespace)) throw new IdentityError('WEFT_ID_SPIFFE_ID', `namespace "${namespace}" is not a DNS label`, 400);
  if (!DNS_LABEL.test(service)) throw new IdentityError('WEFT_ID_SPIFFE_ID', `service "${service}" is not a DNS label`, 400);
  const id = parseSpiffeId(`spiffe://${trustDomain}/ns/${namespace}/sa/${service}`);
  return Object.freeze({ ...id, namespace, service });
}

/**
 * parseWorkloadId parses a SPIFFE ID that must be a workload ID; with `trustDomain` it must also
 * belong to that trust domain (WEFT_ID_TRUST_DOMAIN otherwise).
 */
export function parseWorkloadId(uri: string, trustDomain?: string): WorkloadId {
  const id = parseSpiffeId(uri);
  if (trustDomain !== undefined && id.trustDomain !== trustDomain) {
    throw new IdentityError('WEFT_ID_TRUST_DOMAIN', `${uri} belongs to trust domain ${id.trustDomain}, not ${trustDomain}`);
  }
  const m = /^\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(id.path);
  if (!m || !DNS_LABEL.test(m[1]!) || !DNS_LABEL.test(m[2]!)) {
    throw new IdentityError('WEFT_ID_SPIFFE_ID', `${uri} is not a workload ID (spiffe://<trust-domain>/ns/<namespace>/sa/<service>)`, 400);
  }
  return Object.freeze({ ...id, namespace: m[1]!, service: m[2]! });
}

/** CONTROLLER_NAMESPACE and CONTROLLER_SERVICE make the controller's own identity. */
export const CONTROLLER_NAMESPACE = 'weft-system';
export const CONTROLLER_SERVICE = 'weft-controller';

/** controllerId is the controller's SPIFFE ID in `trustDomain`. */
export function controllerId(trustDomain: string): WorkloadId {
  return workloadId(trustDomain, CONTROLLER_NAMESPACE, CONTROLLER_SERVICE);
}

/**
 * isControllerId: does `id` name the controller (`/ns/weft-system/sa/weft-controller`, in any trust
 * domain)? Proxies accept the control channel's server by that identity alone, so it is never
 * granted to a workload: not by a join token, not by bootstrap, not by renewal.
 */
export function isControllerId(id: SpiffeId): boolean {
  return id.path === `/ns/${CONTROLLER_NAMESPACE}/sa/${CONTROLLER_SERVICE}`;
}
