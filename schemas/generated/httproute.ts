// Generated from schemas/httproute.schema.json by scripts/generate-types.mjs: edit the schema, then run npm run build.

/**
 * DNS-1123 subdomain.
 *
 * This interface was referenced by `HTTPRoute`'s JSON-Schema
 * via the `definition` "dnsSubdomain".
 */
export type DnsSubdomain = string;
/**
 * DNS-1123 label.
 *
 * This interface was referenced by `HTTPRoute`'s JSON-Schema
 * via the `definition` "dnsLabel".
 */
export type DnsLabel = string;
/**
 * The namespace of a referenced object (default: the referring resource's namespace).
 *
 * This interface was referenced by `HTTPRoute`'s JSON-Schema
 * via the `definition` "namespace".
 */
export type Namespace = string;
/**
 * The name of a referenced object.
 *
 * This interface was referenced by `HTTPRoute`'s JSON-Schema
 * via the `definition` "objectName".
 */
export type ObjectName = string;
/**
 * an HTTP header name (RFC 7230 token)
 *
 * This interface was referenced by `HTTPRoute`'s JSON-Schema
 * via the `definition` "headerName".
 */
export type HeaderName = string;
/**
 * This interface was referenced by `HTTPRoute`'s JSON-Schema
 * via the `definition` "filter".
 */
export type Filter = {
  type:
    | 'RequestHeaderModifier'
    | 'ResponseHeaderModifier'
    | 'RequestRedirect'
    | 'URLRewrite'
    | 'RequestMirror'
    | 'ExtensionRef';
  requestHeaderModifier?: HeaderModifier;
  responseHeaderModifier?: HeaderModifier;
  requestRedirect?: {
    scheme?: 'http' | 'https';
    /**
     * a DNS host name (no wildcard)
     */
    hostname?: string;
    path?: PathModifier;
    port?: number;
    statusCode?: 301 | 302 | 303 | 307 | 308;
  };
  urlRewrite?: {
    /**
     * a DNS host name (no wildcard)
     */
    hostname?: string;
    path?: PathModifier;
  };
  requestMirror?: {
    backendRef: BackendObjectRef;
    percent?: number;
    fraction?: {
      numerator: number;
      denominator?: number;
    };
  };
  extensionRef?: {
    /**
     * an API group: empty, or a DNS subdomain such as weft.dev
     */
    group: string;
    /**
     * a kind name such as Service
     */
    kind: string;
    name: ObjectName;
  };
};
/**
 * This interface was referenced by `HTTPRoute`'s JSON-Schema
 * via the `definition` "pathModifier".
 */
export type PathModifier = {
  type: 'ReplaceFullPath' | 'ReplacePrefixMatch';
  replaceFullPath?: PathValue;
  replacePrefixMatch?: PrefixReplacement;
};
/**
 * A normalised path: starts with /, no //, /./, /../, %2f or #.
 *
 * This interface was referenced by `HTTPRoute`'s JSON-Schema
 * via the `definition` "pathValue".
 */
export type PathValue = string;
/**
 * A normalised path prefix, or empty.
 *
 * This interface was referenced by `HTTPRoute`'s JSON-Schema
 * via the `definition` "prefixReplacement".
 */
export type PrefixReplacement = string;
/**
 * GEP-2257 duration: up to four number+unit pairs (h, m, s, ms), e.g. 1h30m, 250ms, 0s.
 *
 * This interface was referenced by `HTTPRoute`'s JSON-Schema
 * via the `definition` "duration".
 */
export type Duration = string;

/**
 * A HTTPRoute resource (gateway.networking.k8s.io/v1).
 */
export interface HTTPRoute {
  apiVersion: 'gateway.networking.k8s.io/v1';
  kind: 'HTTPRoute';
  metadata: Metadata;
  spec: {
    /**
     * @maxItems 32
     */
    parentRefs?: {
      /**
       * an API group: empty, or a DNS subdomain such as weft.dev
       */
      group?: string;
      /**
       * a kind name such as Service
       */
      kind?: string;
      namespace?: Namespace;
      name: ObjectName;
      sectionName?: string;
      port?: number;
    }[];
    /**
     * @maxItems 16
     *
     * Items: a DNS host name, optionally starting with *.
     */
    hostnames?: string[];
    /**
     * @maxItems 16
     */
    rules?: {
      /**
       * a rule name: DNS-1123 subdomain
       */
      name?: string;
      /**
       * @maxItems 64
       */
      matches?: {
        path?: {
          type?: 'Exact' | 'PathPrefix' | 'RegularExpression';
          value?: string;
        };
        /**
         * @maxItems 16
         */
        headers?: {
          type?: 'Exact' | 'RegularExpression';
          name: HeaderName;
          value: string;
        }[];
        /**
         * @maxItems 16
         */
        queryParams?: {
          type?: 'Exact' | 'RegularExpression';
          /**
           * a query parameter name
           */
          name: string;
          value: string;
        }[];
        method?: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE' | 'CONNECT' | 'OPTIONS' | 'TRACE' | 'PATCH';
      }[];
      /**
       * @maxItems 16
       */
      filters?: Filter[];
      /**
       * @maxItems 16
       */
      backendRefs?: {
        /**
         * an API group: empty, or a DNS subdomain such as weft.dev
         */
        group?: string;
        /**
         * a kind name such as Service
         */
        kind?: string;
        name: ObjectName;
        namespace?: Namespace;
        port?: number;
        weight?: number;
        /**
         * @maxItems 16
         */
        filters?: Filter[];
      }[];
      timeouts?: {
        request?: Duration;
        backendRequest?: Duration;
      };
      retry?: {
        /**
         * @maxItems 32
         */
        codes?: number[];
        attempts?: number;
        backoff?: Duration;
      };
    }[];
  };
}
/**
 * This interface was referenced by `HTTPRoute`'s JSON-Schema
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
/**
 * This interface was referenced by `HTTPRoute`'s JSON-Schema
 * via the `definition` "headerModifier".
 */
export interface HeaderModifier {
  /**
   * @maxItems 16
   */
  set?: {
    name: HeaderName;
    value: string;
  }[];
  /**
   * @maxItems 16
   */
  add?: {
    name: HeaderName;
    value: string;
  }[];
  /**
   * @maxItems 16
   */
  remove?: HeaderName[];
}
/**
 * This interface was referenced by `HTTPRoute`'s JSON-Schema
 * via the `definition` "backendObjectRef".
 */
export interface BackendObjectRef {
  /**
   * an API group: empty, or a DNS subdomain such as weft.dev
   */
  group?: string;
  /**
   * a kind name such as Service
   */
  kind?: string;
  name: ObjectName;
  namespace?: Namespace;
  port?: number;
}
