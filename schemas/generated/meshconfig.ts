// Generated from schemas/meshconfig.schema.json by scripts/generate-types.mjs: edit the schema, then run npm run build.

/**
 * DNS-1123 subdomain.
 *
 * This interface was referenced by `MeshConfig`'s JSON-Schema
 * via the `definition` "dnsSubdomain".
 */
export type DnsSubdomain = string;
/**
 * DNS-1123 label.
 *
 * This interface was referenced by `MeshConfig`'s JSON-Schema
 * via the `definition` "dnsLabel".
 */
export type DnsLabel = string;
/**
 * GEP-2257 duration: up to four number+unit pairs (h, m, s, ms), e.g. 1h30m, 250ms, 0s.
 *
 * This interface was referenced by `MeshConfig`'s JSON-Schema
 * via the `definition` "duration".
 */
export type Duration = string;
/**
 * an egress entry: NAMESPACE/NAME, NAMESPACE/* or * /*
 *
 * This interface was referenced by `MeshConfig`'s JSON-Schema
 * via the `definition` "egressEntry".
 */
export type EgressEntry = string;
/**
 * The name of a referenced object.
 *
 * This interface was referenced by `MeshConfig`'s JSON-Schema
 * via the `definition` "objectName".
 */
export type ObjectName = string;
/**
 * The namespace of a referenced object (default: the referring resource's namespace).
 *
 * This interface was referenced by `MeshConfig`'s JSON-Schema
 * via the `definition` "namespace".
 */
export type Namespace = string;

/**
 * A MeshConfig resource (weft.dev/v1alpha1).
 */
export interface MeshConfig {
  apiVersion: 'weft.dev/v1alpha1';
  kind: 'MeshConfig';
  metadata: Metadata;
  spec: {
    defaults?: {
      timeouts?: {
        request?: Duration;
        backendRequest?: Duration;
      };
      retry?: {
        attempts?: number;
        /**
         * @maxItems 32
         */
        codes?: number[];
        backoff?: Duration;
        /**
         * gRPC statuses retried (Envoy retry_on names), for gRPC calls answered trailers-only
         *
         * @maxItems 5
         */
        grpcCodes?: ('cancelled' | 'deadline-exceeded' | 'internal' | 'resource-exhausted' | 'unavailable')[];
      };
      /**
       * @maxItems 1024
       */
      egress?: EgressEntry[];
    };
    authorization?: {
      default?: 'allow' | 'deny';
    };
    telemetry?: {
      accessLog?: boolean;
      tracing?: boolean;
    };
    /**
     * mutual TLS on inbound listeners (default STRICT); a Service may override
     */
    mtls?: {
      mode: 'STRICT' | 'PERMISSIVE';
    };
    /**
     * Listener limits and path handling of every proxy, applied on reload. Absent fields keep their defaults (docs/proxy.md).
     */
    proxy?: {
      /**
       * GEP-2257 duration: up to four number+unit pairs (h, m, s, ms), e.g. 1h30m, 250ms, 0s.
       */
      requestHeadersTimeout?: string;
      /**
       * GEP-2257 duration: up to four number+unit pairs (h, m, s, ms), e.g. 1h30m, 250ms, 0s.
       */
      streamIdleTimeout?: string;
      /**
       * GEP-2257 duration: up to four number+unit pairs (h, m, s, ms), e.g. 1h30m, 250ms, 0s.
       */
      requestTimeout?: string;
      /**
       * Open connections per listener (default 10000); more are closed at once and counted.
       */
      maxConnections?: number;
      /**
       * Size of a request head (default 16384); larger: 431 WEFT_HEADERS_TOO_LARGE.
       */
      maxRequestHeadersBytes?: number;
      /**
       * Number of request headers (default 100, as Envoy); more: 431 WEFT_HEADERS_TOO_LARGE.
       */
      maxRequestHeadersCount?: number;
      /**
       * Size of an upstream's response head (default 65536); larger: 502 WEFT_UPSTREAM_HEADERS_TOO_LARGE.
       */
      maxResponseHeadersBytes?: number;
      pathNormalization?: {
        /**
         * %2F and %5C in a path (Envoy path_with_escaped_slashes_action): Reject [default] answers 400; KeepUnchanged matches and forwards them encoded; UnescapeAndForward decodes them into / before matching and forwarding.
         */
        escapedSlashes?: 'Reject' | 'KeepUnchanged' | 'UnescapeAndForward';
        /**
         * Merge runs of / into one (default true).
         */
        mergeSlashes?: boolean;
        /**
         * Remove ;parameters from every path segment before matching and forwarding (default false: a segment with ; next to a dot segment is refused).
         */
        stripPathParameters?: boolean;
      };
    };
  };
}
/**
 * This interface was referenced by `MeshConfig`'s JSON-Schema
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
