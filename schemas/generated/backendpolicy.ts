// Generated from schemas/backendpolicy.schema.json by scripts/generate-types.mjs: edit the schema, then run npm run build.

/**
 * DNS-1123 subdomain.
 *
 * This interface was referenced by `BackendPolicy`'s JSON-Schema
 * via the `definition` "dnsSubdomain".
 */
export type DnsSubdomain = string;
/**
 * DNS-1123 label.
 *
 * This interface was referenced by `BackendPolicy`'s JSON-Schema
 * via the `definition` "dnsLabel".
 */
export type DnsLabel = string;
/**
 * The name of a referenced object.
 *
 * This interface was referenced by `BackendPolicy`'s JSON-Schema
 * via the `definition` "objectName".
 */
export type ObjectName = string;
/**
 * The namespace of a referenced object (default: the referring resource's namespace).
 *
 * This interface was referenced by `BackendPolicy`'s JSON-Schema
 * via the `definition` "namespace".
 */
export type Namespace = string;
/**
 * an HTTP header name (RFC 7230 token)
 *
 * This interface was referenced by `BackendPolicy`'s JSON-Schema
 * via the `definition` "headerName".
 */
export type HeaderName = string;
/**
 * GEP-2257 duration: up to four number+unit pairs (h, m, s, ms), e.g. 1h30m, 250ms, 0s.
 *
 * This interface was referenced by `BackendPolicy`'s JSON-Schema
 * via the `definition` "duration".
 */
export type Duration = string;

/**
 * A BackendPolicy resource (weft.dev/v1alpha1).
 */
export interface BackendPolicy {
  apiVersion: 'weft.dev/v1alpha1';
  kind: 'BackendPolicy';
  metadata: Metadata;
  spec: {
    /**
     * @minItems 1
     * @maxItems 16
     */
    targetRefs: {
      /**
       * an API group: empty, or a DNS subdomain such as weft.dev
       */
      group?: string;
      kind: 'Service';
      name: ObjectName;
      namespace?: Namespace;
    }[];
    loadBalancer?: {
      type: 'RoundRobin' | 'LeastRequest' | 'Random' | 'ConsistentHash';
      hashOn?: {
        header?: HeaderName;
        clientAddress?: true;
      };
    };
    connectionPool?: {
      maxConnections?: number;
      maxPendingRequests?: number;
    };
    outlierDetection?: {
      consecutiveErrors?: number;
      interval?: Duration;
      baseEjectionTime?: Duration;
      maxEjectionPercent?: number;
    };
    retryBudget?: {
      percent?: number;
      minRetriesPerSecond?: number;
      interval?: Duration;
    };
  };
}
/**
 * This interface was referenced by `BackendPolicy`'s JSON-Schema
 * via the `definition` "metadata".
 */
export interface Metadata {
  name: DnsSubdomain;
  namespace?: DnsLabel;
  creationTimestamp?: string;
  labels?: {
    [k: string]: string;
  };
  annotations?: {
    [k: string]: string;
  };
}
