// Generated from schemas/bundle.schema.json by scripts/generate-types.mjs: edit the schema, then run npm run build.

/**
 * What a Service's instances may call: NAMESPACE/NAME, NAMESPACE/* or * /*; sorted, no repeats. Absent: * /*.
 *
 * This interface was referenced by `WeftBundle`'s JSON-Schema
 * via the `definition` "EgressScope".
 */
export type EgressScope = string[];
/**
 * This interface was referenced by `WeftBundle`'s JSON-Schema
 * via the `definition` "Filter".
 */
export type Filter =
  | {
      type: 'RequestHeaderModifier';
      modifier: HeaderModifier;
    }
  | {
      type: 'ResponseHeaderModifier';
      modifier: HeaderModifier;
    }
  | {
      type: 'RequestRedirect';
      redirect: Redirect;
    }
  | {
      type: 'URLRewrite';
      rewrite: Rewrite;
    }
  | {
      type: 'RequestMirror';
      mirror: Mirror;
    }
  | {
      type: 'Fault';
      name: string;
      fault: FaultSpec;
    };
/**
 * This interface was referenced by `WeftBundle`'s JSON-Schema
 * via the `definition` "PathModifier".
 */
export type PathModifier =
  | {
      type: 'ReplaceFullPath';
      value: string;
    }
  | {
      type: 'ReplacePrefixMatch';
      value: string;
      prefix: string;
    };
/**
 * What a Service's instances may call: NAMESPACE/NAME, NAMESPACE/* or * /*; sorted, no repeats. Absent: * /*.
 */
export type EgressScope1 = string[];

/**
 * One compiled commit of a Weft policy repository (weft.dev/bundle/v1). Its TypeScript types (schemas/generated/bundle.ts) are generated from this schema. Durations are integer milliseconds.
 */
export interface WeftBundle {
  apiVersion: 'weft.dev/bundle/v1';
  /**
   * `sha256:<64 hex>` over canonicalJson(spec).
   */
  digest: string;
  /**
   * Where the policies came from; null when compiled from a plain directory.
   */
  revision: Revision | null;
  spec: BundleSpec;
  /**
   * Where each route, rule and policy came from (file:line), for `weft explain` and errors. Not covered by the digest: renaming a file does not make proxies reload.
   */
  sources: {
    [k: string]: SourceLocation;
  };
  signature?: BundleSignature;
}
/**
 * This interface was referenced by `WeftBundle`'s JSON-Schema
 * via the `definition` "Revision".
 */
export interface Revision {
  /**
   * Full commit SHA.
   */
  commit: string;
  /**
   * The ref that was asked for (`main`, `HEAD~1`, a SHA), or null.
   */
  ref: string | null;
  /**
   * Sub-directory of the repository that was compiled ('' for the root).
   */
  path: string;
}
/**
 * The compiled content: everything that changes traffic.
 */
export interface BundleSpec {
  mesh: MeshSettings;
  /**
   * Sorted by id (`namespace/name`).
   */
  services: ServiceEntry[];
}
/**
 * MeshSettings are MeshConfig with built-in defaults filled in (docs/policies.md lists them).
 *
 * This interface was referenced by `WeftBundle`'s JSON-Schema
 * via the `definition` "MeshSettings".
 */
export interface MeshSettings {
  defaults: {
    timeouts: Timeouts;
    retry: RetryPolicy | null;
    egress?: EgressScope;
  };
  authorization: {
    default: 'allow' | 'deny';
  };
  telemetry: {
    accessLog: boolean;
    tracing: boolean;
  };
  /**
   * MeshConfig spec.mtls; present only when PERMISSIVE, absent means STRICT
   */
  mtls?: {
    mode: 'PERMISSIVE';
  };
  proxy?: MeshProxySettings;
}
/**
 * This interface was referenced by `WeftBundle`'s JSON-Schema
 * via the `definition` "Timeouts".
 */
export interface Timeouts {
  /**
   * milliseconds; 0 disables a timeout
   */
  requestMs: number;
  /**
   * milliseconds; 0 disables a timeout
   */
  backendRequestMs: number;
}
/**
 * This interface was referenced by `WeftBundle`'s JSON-Schema
 * via the `definition` "RetryPolicy".
 */
export interface RetryPolicy {
  /**
   * Maximum number of retries after the first attempt (>= 1).
   */
  attempts: number;
  /**
   * HTTP status codes (400..599) that are retried; connection errors are always retried.
   */
  codes: number[];
  /**
   * Base backoff in ms: the wait before retry n grows exponentially from it, capped at 10x, and is drawn between the base and that cap (never below the base: Gateway API's minimum wait).
   */
  backoffMs: number;
  /**
   * gRPC statuses retried (Envoy retry_on names), sorted; absent when none. Only a trailers-only gRPC answer can be retried.
   */
  grpcCodes?: ('cancelled' | 'deadline-exceeded' | 'internal' | 'resource-exhausted' | 'unavailable')[];
}
/**
 * MeshConfig spec.proxy, present only when the MeshConfig has it (absent: DEFAULT_PROXY_SETTINGS), so bundles of repositories that never mention it keep their digest.
 */
export interface MeshProxySettings {
  /**
   * The whole request head must arrive within this many ms; 0 disables.
   */
  requestHeadersTimeoutMs: number;
  /**
   * A request with no bytes in either direction for this many ms ends (408 or 504); 0 disables.
   */
  streamIdleTimeoutMs: number;
  /**
   * The whole request (head and body) must arrive within this many ms unless the response has started (408 WEFT_REQUEST_RECEIVE_TIMEOUT); 0 disables. Absent (a bundle from an older compiler): the default.
   */
  requestTimeoutMs?: number;
  /**
   * Open connections per listener; more are closed at once.
   */
  maxConnections: number;
  /**
   * Largest request head, in bytes (431 above).
   */
  maxRequestHeadersBytes: number;
  /**
   * Most request headers (431 above).
   */
  maxRequestHeadersCount: number;
  /**
   * Largest upstream response head, in bytes (502 WEFT_UPSTREAM_HEADERS_TOO_LARGE above).
   */
  maxResponseHeadersBytes: number;
  /**
   * How a path is made canonical before routing, policies and the app see it (docs/traffic-policies.md).
   */
  pathNormalization: {
    /**
     * %2F and %5C: Reject (400), KeepUnchanged (matched and forwarded encoded), UnescapeAndForward (decoded to / before matching and forwarding). Envoy's path_with_escaped_slashes_action.
     */
    escapedSlashes: 'Reject' | 'KeepUnchanged' | 'UnescapeAndForward';
    /**
     * Merge runs of / into one.
     */
    mergeSlashes: boolean;
    /**
     * Remove ;parameters from every segment.
     */
    stripPathParameters: boolean;
  };
}
/**
 * ServiceEntry is one mesh Service with everything that applies to traffic to it.
 *
 * This interface was referenced by `WeftBundle`'s JSON-Schema
 * via the `definition` "ServiceEntry".
 */
export interface ServiceEntry {
  /**
   * `namespace/name`.
   */
  id: string;
  name: string;
  namespace: string;
  ports: ServicePort[];
  /**
   * Sorted by address then port. Empty is allowed (callers get 503).
   */
  endpoints: Endpoint[];
  backendPolicy: BackendPolicySettings;
  /**
   * Inbound authorization: DENY policies first, then ALLOW, each sorted by name.
   */
  authorization: {
    deny: AuthorizationPolicyEntry[];
    allow: AuthorizationPolicyEntry[];
  };
  /**
   * Inbound rate limits (RateLimitPolicies targeting this Service), sorted by policy name.
   */
  rateLimits: RateLimit[];
  routing: Routing;
  /**
   * effective inbound mTLS mode (Service override, else MeshConfig); present only when PERMISSIVE, absent means STRICT
   */
  mtls?: {
    mode: 'PERMISSIVE';
  };
  egress?: EgressScope1;
}
/**
 * This interface was referenced by `WeftBundle`'s JSON-Schema
 * via the `definition` "ServicePort".
 */
export interface ServicePort {
  name: string;
  port: number;
  appProtocol?: string;
}
/**
 * This interface was referenced by `WeftBundle`'s JSON-Schema
 * via the `definition` "Endpoint".
 */
export interface Endpoint {
  address: string;
  port: number;
  labels: {
    [k: string]: string;
  };
  /**
   * present only when true: a Weft inbound (mTLS, identity checked)
   */
  meshed?: true;
}
/**
 * Caller-side settings for traffic to this Service; defaults filled in.
 */
export interface BackendPolicySettings {
  /**
   * Name of the BackendPolicy, or null when only defaults apply.
   */
  policy: string | null;
  loadBalancer:
    | {
        type: 'RoundRobin' | 'LeastRequest' | 'Random';
      }
    | {
        type: 'ConsistentHash';
        hashOn:
          | {
              header: string;
            }
          | {
              clientAddress: true;
            };
      };
  /**
   * null: unlimited.
   */
  connectionPool: {
    maxConnections: number;
    maxPendingRequests: number;
  } | null;
  /**
   * null: no outlier detection.
   */
  outlierDetection: {
    consecutiveErrors: number;
    intervalMs: number;
    baseEjectionTimeMs: number;
    maxEjectionPercent: number;
  } | null;
  /**
   * Always present: defaults 20% + 10/s over 10 s.
   */
  retryBudget: {
    percent: number;
    minRetriesPerSecond: number;
    intervalMs: number;
  };
}
/**
 * This interface was referenced by `WeftBundle`'s JSON-Schema
 * via the `definition` "AuthorizationPolicyEntry".
 */
export interface AuthorizationPolicyEntry {
  /**
   * `namespace/name` of the AuthorizationPolicy.
   */
  policy: string;
  rules: AuthorizationRule[];
}
/**
 * AuthorizationRule matches when every present clause matches (each clause is a list ORed).
 *
 * This interface was referenced by `WeftBundle`'s JSON-Schema
 * via the `definition` "AuthorizationRule".
 */
export interface AuthorizationRule {
  /**
   * null: any caller, identified or not. Empty never happens.
   */
  from:
    | {
        service: string;
        namespace: string;
      }[]
    | null;
  to:
    | {
        methods: string[] | null;
        paths: string[] | null;
      }[]
    | null;
  when:
    | {
        header: string;
        values: string[];
      }[]
    | null;
}
/**
 * This interface was referenced by `WeftBundle`'s JSON-Schema
 * via the `definition` "RateLimit".
 */
export interface RateLimit {
  /**
   * `namespace/name` of the RateLimitPolicy.
   */
  policy: string;
  /**
   * `caller` | `clientAddress` | `header:<lower-case name>`.
   */
  key: string;
  requests: number;
  perMs: number;
  burst: number;
}
/**
 * Routing for traffic addressed to this Service.
 */
export interface Routing {
  producer: RouteTable | null;
  /**
   * key: caller namespace.
   */
  consumers: {
    [k: string]: RouteTable;
  };
}
/**
 * RouteTable is one fully ordered list of matches. The first entry of `matches` that matches a request wins: Gateway API precedence was decided by the compiler. `index` narrows candidates.
 *
 * This interface was referenced by `WeftBundle`'s JSON-Schema
 * via the `definition` "RouteTable".
 */
export interface RouteTable {
  /**
   * In precedence order; never empty.
   *
   * @minItems 1
   */
  matches: RouteMatch[];
  /**
   * Actions, referenced by RouteMatch.rule.
   */
  rules: Rule[];
  index: RouteIndex;
}
/**
 * This interface was referenced by `WeftBundle`'s JSON-Schema
 * via the `definition` "RouteMatch".
 */
export interface RouteMatch {
  /**
   * Index into RouteTable.rules.
   */
  rule: number;
  /**
   * Stable id: `namespace/route#rule.match` (0-based).
   */
  id: string;
  path: PathMatch;
  /**
   * Upper-case method, or null for any.
   */
  method: string | null;
  /**
   * Lower-cased names; first occurrence of a name kept.
   */
  headers: ValueMatch[];
  queryParams: ValueMatch[];
  /**
   * From parentRef.port; null = every port of the Service.
   */
  port: number | null;
}
/**
 * This interface was referenced by `WeftBundle`'s JSON-Schema
 * via the `definition` "PathMatch".
 */
export interface PathMatch {
  type: 'Exact' | 'PathPrefix' | 'RegularExpression';
  /**
   * For PathPrefix, normalised: no trailing slash except the root "/". RE2 syntax for regex.
   */
  value: string;
}
/**
 * This interface was referenced by `WeftBundle`'s JSON-Schema
 * via the `definition` "ValueMatch".
 */
export interface ValueMatch {
  type: 'Exact' | 'RegularExpression';
  name: string;
  value: string;
}
/**
 * Rule is what happens to a request that matched: filters, then one backend or a direct response.
 *
 * This interface was referenced by `WeftBundle`'s JSON-Schema
 * via the `definition` "Rule".
 */
export interface Rule {
  /**
   * Stable id: `namespace/route#rule` (0-based rule index).
   */
  id: string;
  /**
   * The route the rule comes from; `kind` is present only for a GRPCRoute (absent: HTTPRoute).
   */
  route: {
    /**
     * present only for a GRPCRoute rule (absent: HTTPRoute)
     */
    kind?: 'GRPCRoute';
    namespace: string;
    name: string;
  };
  /**
   * Filters in the order written (ExtensionRef Faults resolved to their spec).
   */
  filters: Filter[];
  /**
   * Weight > 0 only, in the order written; empty with `direct` set.
   */
  backends: WeightedBackend[];
  /**
   * Sum of backend weights plus the weight of backends that are invalid (answered 500).
   */
  totalWeight: number;
  /**
   * Set when the rule answers without forwarding (no backends: 500; all weights zero: 503).
   */
  direct: {
    status: number;
    reason: string;
  } | null;
  timeouts: Timeouts;
  retry: RetryPolicy | null;
  /**
   * Outbound rate limits from RateLimitPolicies that target this rule's HTTPRoute.
   */
  rateLimits: RateLimit[];
}
/**
 * This interface was referenced by `WeftBundle`'s JSON-Schema
 * via the `definition` "HeaderModifier".
 */
export interface HeaderModifier {
  /**
   * Names as written (matching is case-insensitive).
   */
  set: {
    name: string;
    value: string;
  }[];
  add: {
    name: string;
    value: string;
  }[];
  remove: string[];
}
/**
 * This interface was referenced by `WeftBundle`'s JSON-Schema
 * via the `definition` "Redirect".
 */
export interface Redirect {
  scheme: ('http' | 'https') | null;
  hostname: string | null;
  port: number | null;
  path: PathModifier | null;
  statusCode: 301 | 302 | 303 | 307 | 308;
}
/**
 * This interface was referenced by `WeftBundle`'s JSON-Schema
 * via the `definition` "Rewrite".
 */
export interface Rewrite {
  hostname: string | null;
  path: PathModifier | null;
}
/**
 * This interface was referenced by `WeftBundle`'s JSON-Schema
 * via the `definition` "Mirror".
 */
export interface Mirror {
  service: string;
  port: number;
  /**
   * 0..100, fractions allowed.
   */
  percent: number;
}
/**
 * This interface was referenced by `WeftBundle`'s JSON-Schema
 * via the `definition` "FaultSpec".
 */
export interface FaultSpec {
  delay: {
    ms: number;
    percent: number;
  } | null;
  abort: {
    status: number;
    percent: number;
  } | null;
}
/**
 * This interface was referenced by `WeftBundle`'s JSON-Schema
 * via the `definition` "WeightedBackend".
 */
export interface WeightedBackend {
  /**
   * Service id `namespace/name`.
   */
  service: string;
  port: number;
  weight: number;
  /**
   * Per-backend filters, run only when this backend is chosen.
   */
  filters: Filter[];
}
/**
 * RouteIndex lists, for each kind of path match, which entries of `matches` can apply. Lists are ascending (so the router takes the smallest index that matches).
 *
 * This interface was referenced by `WeftBundle`'s JSON-Schema
 * via the `definition` "RouteIndex".
 */
export interface RouteIndex {
  /**
   * Exact path → match indexes.
   */
  exact: {
    [k: string]: number[];
  };
  /**
   * Normalised prefix (no trailing slash; "/" for the root) → match indexes.
   */
  prefix: {
    [k: string]: number[];
  };
  /**
   * Match indexes with a RegularExpression path.
   */
  regex: number[];
}
/**
 * This interface was referenced by `WeftBundle`'s JSON-Schema
 * via the `definition` "SourceLocation".
 */
export interface SourceLocation {
  file: string;
  line: number;
  column: number;
}
/**
 * ed25519 over canonicalJson({digest, issuedAt, revision}); absent when unsigned.
 */
export interface BundleSignature {
  alg: 'ed25519';
  /**
   * First 16 hex chars of sha256 over the public key's SPKI DER.
   */
  keyId: string;
  /**
   * When the bundle was signed (RFC 3339, UTC). Covered by the signature; a proxy refuses a bundle issued before its active one.
   */
  issuedAt: string;
  /**
   * base64 signature over canonicalJson({digest, issuedAt, revision}).
   */
  value: string;
}
/**
 * This interface was referenced by `WeftBundle`'s JSON-Schema
 * via the `definition` "BundleSignature".
 */
export interface BundleSignature1 {
  alg: 'ed25519';
  /**
   * First 16 hex chars of sha256 over the public key's SPKI DER.
   */
  keyId: string;
  /**
   * When the bundle was signed (RFC 3339, UTC). Covered by the signature; a proxy refuses a bundle issued before its active one.
   */
  issuedAt: string;
  /**
   * base64 signature over canonicalJson({digest, issuedAt, revision}).
   */
  value: string;
}
/**
 * Routing: the producer table applies to every caller; a consumer table (an HTTPRoute in the caller's namespace, GAMMA) replaces it for callers in that namespace. A Service with no HTTPRoute has `producer: null` and no consumers: traffic goes to its own endpoints.
 *
 * This interface was referenced by `WeftBundle`'s JSON-Schema
 * via the `definition` "Routing".
 */
export interface Routing1 {
  producer: RouteTable | null;
  /**
   * key: caller namespace.
   */
  consumers: {
    [k: string]: RouteTable;
  };
}
/**
 * This interface was referenced by `WeftBundle`'s JSON-Schema
 * via the `definition` "BackendPolicySettings".
 */
export interface BackendPolicySettings1 {
  /**
   * Name of the BackendPolicy, or null when only defaults apply.
   */
  policy: string | null;
  loadBalancer:
    | {
        type: 'RoundRobin' | 'LeastRequest' | 'Random';
      }
    | {
        type: 'ConsistentHash';
        hashOn:
          | {
              header: string;
            }
          | {
              clientAddress: true;
            };
      };
  /**
   * null: unlimited.
   */
  connectionPool: {
    maxConnections: number;
    maxPendingRequests: number;
  } | null;
  /**
   * null: no outlier detection.
   */
  outlierDetection: {
    consecutiveErrors: number;
    intervalMs: number;
    baseEjectionTimeMs: number;
    maxEjectionPercent: number;
  } | null;
  /**
   * Always present: defaults 20% + 10/s over 10 s.
   */
  retryBudget: {
    percent: number;
    minRetriesPerSecond: number;
    intervalMs: number;
  };
}
/**
 * This interface was referenced by `WeftBundle`'s JSON-Schema
 * via the `definition` "BundleSpec".
 */
export interface BundleSpec1 {
  mesh: MeshSettings;
  /**
   * Sorted by id (`namespace/name`).
   */
  services: ServiceEntry[];
}
/**
 * MeshProxySettings are MeshConfig spec.proxy with every field filled in: the listener limits and path handling every proxy applies on reload (defaults: schemas/proxy-settings.ts, docs/proxy.md).
 *
 * This interface was referenced by `WeftBundle`'s JSON-Schema
 * via the `definition` "MeshProxySettings".
 */
export interface MeshProxySettings1 {
  /**
   * The whole request head must arrive within this many ms; 0 disables.
   */
  requestHeadersTimeoutMs: number;
  /**
   * A request with no bytes in either direction for this many ms ends (408 or 504); 0 disables.
   */
  streamIdleTimeoutMs: number;
  /**
   * The whole request (head and body) must arrive within this many ms unless the response has started (408 WEFT_REQUEST_RECEIVE_TIMEOUT); 0 disables. Absent (a bundle from an older compiler): the default.
   */
  requestTimeoutMs?: number;
  /**
   * Open connections per listener; more are closed at once.
   */
  maxConnections: number;
  /**
   * Largest request head, in bytes (431 above).
   */
  maxRequestHeadersBytes: number;
  /**
   * Most request headers (431 above).
   */
  maxRequestHeadersCount: number;
  /**
   * Largest upstream response head, in bytes (502 WEFT_UPSTREAM_HEADERS_TOO_LARGE above).
   */
  maxResponseHeadersBytes: number;
  /**
   * How a path is made canonical before routing, policies and the app see it (docs/traffic-policies.md).
   */
  pathNormalization: {
    /**
     * %2F and %5C: Reject (400), KeepUnchanged (matched and forwarded encoded), UnescapeAndForward (decoded to / before matching and forwarding). Envoy's path_with_escaped_slashes_action.
     */
    escapedSlashes: 'Reject' | 'KeepUnchanged' | 'UnescapeAndForward';
    /**
     * Merge runs of / into one.
     */
    mergeSlashes: boolean;
    /**
     * Remove ;parameters from every segment.
     */
    stripPathParameters: boolean;
  };
}
