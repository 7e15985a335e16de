// Generated from schemas/service.schema.json by scripts/generate-types.mjs: edit the schema, then run npm run build.

/**
 * DNS-1123 label.
 *
 * This interface was referenced by `Service`'s JSON-Schema
 * via the `definition` "dnsLabel".
 */
export type DnsLabel = string;
/**
 * an egress entry: NAMESPACE/NAME, NAMESPACE/* or * /*
 *
 * This interface was referenced by `Service`'s JSON-Schema
 * via the `definition` "egressEntry".
 */
export type EgressEntry = string;
/**
 * GEP-2257 duration: up to four number+unit pairs (h, m, s, ms), e.g. 1h30m, 250ms, 0s.
 *
 * This interface was referenced by `Service`'s JSON-Schema
 * via the `definition` "duration".
 */
export type Duration = string;
/**
 * DNS-1123 subdomain.
 *
 * This interface was referenced by `Service`'s JSON-Schema
 * via the `definition` "dnsSubdomain".
 */
export type DnsSubdomain = string;
/**
 * The name of a referenced object.
 *
 * This interface was referenced by `Service`'s JSON-Schema
 * via the `definition` "objectName".
 */
export type ObjectName = string;
/**
 * The namespace of a referenced object (default: the referring resource's namespace).
 *
 * This interface was referenced by `Service`'s JSON-Schema
 * via the `definition` "namespace".
 */
export type Namespace = string;

/**
 * A Service resource (weft.dev/v1alpha1).
 */
export interface Service {
  apiVersion: 'weft.dev/v1alpha1';
  kind: 'Service';
  metadata: Metadata;
  spec: {
    /**
     * @minItems 1
     * @maxItems 64
     */
    ports: {
      /**
       * a port name: lower-case letters, digits and -, at most 63 characters
       */
      name: string;
      port: number;
      appProtocol?: string;
    }[];
    endpoints?: {
      /**
       * an IP address or host name
       */
      address: string;
      port?: number;
      labels?: {
        [k: string]: string;
      };
      /**
       * a Weft inbound listener: reached with mTLS and its identity checked (default false: plaintext)
       */
      meshed?: boolean;
    }[];
    /**
     * overrides MeshConfig spec.mtls for this Service's inbound listeners
     */
    mtls?: {
      mode: 'STRICT' | 'PERMISSIVE';
    };
    /**
     * @maxItems 1024
     */
    egress?: EgressEntry[];
  };
}
/**
 * This interface was referenced by `Service`'s JSON-Schema
 * via the `definition` "metadata".
 */
export interface Metadata {
  name: DnsLabel;
  namespace?: DnsLabel;
  creationTimestamp?: string;
  labels?: {
    [k: string]: string;
  };
  annotations?: {
    [k: string]: string;
  };
}
