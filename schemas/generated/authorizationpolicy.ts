// Generated from schemas/authorizationpolicy.schema.json by scripts/generate-types.mjs: edit the schema, then run npm run build.

/**
 * DNS-1123 subdomain.
 *
 * This interface was referenced by `AuthorizationPolicy`'s JSON-Schema
 * via the `definition` "dnsSubdomain".
 */
export type DnsSubdomain = string;
/**
 * DNS-1123 label.
 *
 * This interface was referenced by `AuthorizationPolicy`'s JSON-Schema
 * via the `definition` "dnsLabel".
 */
export type DnsLabel = string;
/**
 * The name of a referenced object.
 *
 * This interface was referenced by `AuthorizationPolicy`'s JSON-Schema
 * via the `definition` "objectName".
 */
export type ObjectName = string;
/**
 * The namespace of a referenced object (default: the referring resource's namespace).
 *
 * This interface was referenced by `AuthorizationPolicy`'s JSON-Schema
 * via the `definition` "namespace".
 */
export type Namespace = string;
/**
 * An exact path, or a prefix ending in *.
 *
 * This interface was referenced by `AuthorizationPolicy`'s JSON-Schema
 * via the `definition` "authPath".
 */
export type AuthPath = string;
/**
 * GEP-2257 duration: up to four number+unit pairs (h, m, s, ms), e.g. 1h30m, 250ms, 0s.
 *
 * This interface was referenced by `AuthorizationPolicy`'s JSON-Schema
 * via the `definition` "duration".
 */
export type Duration = string;

/**
 * A AuthorizationPolicy resource (weft.dev/v1alpha1).
 */
export interface AuthorizationPolicy {
  apiVersion: 'weft.dev/v1alpha1';
  kind: 'AuthorizationPolicy';
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
    action: 'ALLOW' | 'DENY';
    /**
     * @maxItems 64
     */
    rules: {
      /**
       * @minItems 1
       */
      from?: {
        service: ObjectName;
        namespace?: Namespace;
      }[];
      /**
       * @minItems 1
       */
      to?: {
        /**
         * @minItems 1
         */
        methods?: ('GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE' | 'CONNECT' | 'OPTIONS' | 'TRACE' | 'PATCH')[];
        /**
         * @minItems 1
         */
        paths?: AuthPath[];
      }[];
      /**
       * @minItems 1
       */
      when?: {
        /**
         * an HTTP header name (RFC 7230 token)
         */
        header: string;
        /**
         * @minItems 1
         */
        values: string[];
      }[];
    }[];
  };
}
/**
 * This interface was referenced by `AuthorizationPolicy`'s JSON-Schema
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
