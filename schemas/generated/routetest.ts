// Generated from schemas/routetest.schema.json by scripts/generate-types.mjs: edit the schema, then run npm run build.

/**
 * DNS-1123 subdomain.
 *
 * This interface was referenced by `RouteTest`'s JSON-Schema
 * via the `definition` "dnsSubdomain".
 */
export type DnsSubdomain = string;
/**
 * DNS-1123 label.
 *
 * This interface was referenced by `RouteTest`'s JSON-Schema
 * via the `definition` "dnsLabel".
 */
export type DnsLabel = string;
/**
 * The name of a referenced object.
 *
 * This interface was referenced by `RouteTest`'s JSON-Schema
 * via the `definition` "objectName".
 */
export type ObjectName = string;
/**
 * GEP-2257 duration: up to four number+unit pairs (h, m, s, ms), e.g. 1h30m, 250ms, 0s.
 *
 * This interface was referenced by `RouteTest`'s JSON-Schema
 * via the `definition` "duration".
 */
export type Duration = string;
/**
 * The namespace of a referenced object (default: the referring resource's namespace).
 *
 * This interface was referenced by `RouteTest`'s JSON-Schema
 * via the `definition` "namespace".
 */
export type Namespace = string;

/**
 * A RouteTest resource (weft.dev/v1alpha1).
 */
export interface RouteTest {
  apiVersion: 'weft.dev/v1alpha1';
  kind: 'RouteTest';
  metadata: Metadata;
  spec: {
    /**
     * @minItems 1
     */
    cases: {
      name: string;
      from?: ObjectName;
      request: {
        method?: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE' | 'CONNECT' | 'OPTIONS' | 'TRACE' | 'PATCH';
        /**
         * an absolute http:// or https:// URL
         */
        url: string;
        headers?: {
          [k: string]: string;
        };
      };
      expect: {
        backend?: ObjectName;
        backends?: {
          [k: string]: number;
        };
        status?: number;
        redirect?: {
          status?: 301 | 302 | 303 | 307 | 308;
          location: string;
        };
        /**
         * a path starting with /
         */
        path?: string;
        headers?: {
          [k: string]: string;
        };
      };
    }[];
  };
}
/**
 * This interface was referenced by `RouteTest`'s JSON-Schema
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
