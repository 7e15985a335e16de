/**
 * Resource types: the policy kinds as the validate pass hands them on. Each type mirrors its JSON
 * Schema in schemas/<kind>.schema.json (test/compiler/schema-types.test.ts keeps them in step);
 * a value of these types has passed its schema, so optional fields are the only unknowns.
 */
import type { SourceSpan } from './positions.js';

export type Kind =
  | 'HTTPRoute'
  | 'GRPCRoute'
  | 'Service'
  | 'BackendPolicy'
  | 'RateLimitPolicy'
  | 'AuthorizationPolicy'
  | 'Fault'
  | 'MeshConfig'
  | 'RouteTest';

/** API_VERSIONS gives the one apiVersion each kind is accepted with. */
export const API_VERSIONS: Readonly<Record<Kind, string>> = Object.freeze({
  HTTPRoute: 'gateway.networking.k8s.io/v1',
  GRPCRoute: 'gateway.networking.k8s.io/v1',
  Service: 'weft.dev/v1alpha1',
  BackendPolicy: 'weft.dev/v1alpha1',
  RateLimitPolicy: 'weft.dev/v1alpha1',
  AuthorizationPolicy: 'weft.dev/v1alpha1',
  Fault: 'weft.dev/v1alpha1',
  MeshConfig: 'weft.dev/v1alpha1',
  RouteTest: 'weft.dev/v1alpha1',
});

export interface Metadata {
  name: string;
  /** Filled with `default` by the validate pass when absent. */
  namespace: string;
  creationTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/**
 * Origin says where a resource was written. `pointer` positions are JSON Pointers into the
 * document ("/spec/rules/0/backendRefs/1/weight"); `at` finds the closest written node.
 */
export interface Origin {
  /** Path relative to the compiled directory, `/`-separated. */
  file: string;
  /** 0-based document index within the file. */
  document: number;
  /** Span of the whole document. */
  span: SourceSpan;
  /** JSON Pointer → span of the value (and of its key, when it has one). */
  positions: ReadonlyMap<string, { value: SourceSpan; key?: SourceSpan }>;
}

interface ResourceOf<K extends Kind, S> {
  apiVersion: string;
  kind: K;
  metadata: Metadata;
  spec: S;
  origin: Origin;
}

export type Resource =
  | HTTPRoute
  | GRPCRoute
  | Service
  | BackendPolicy
  | RateLimitPolicy
  | AuthorizationPolicy
  | Fault
  | MeshConfig
  | RouteTest;

/** resourceId is `Kind/namespace/name`: unique across a repository. */
export function resourceId(r: { kind: string; metadata: { namespace: string; name: string } }): string {
  return `${r.kind}/${r.metadata.namespace}/${r.metadata.name}`;
}

// ---- Gateway API HTTPRoute (v1, GAMMA profile) -------------------------------------------

export type HTTPRoute = ResourceOf<'HTTPRoute', HTTPRouteSpec>;

export interface HTTPRouteSpec {
  parentRefs?: ParentRef[];
  hostnames?: string[];
  rules?: HTTPRouteRule[];
}

export interface ParentRef {
  group?: string;
  kind?: string;
  namespace?: string;
  name: string;
  sectionName?: string;
  port?: number;
}

export interface HTTPRouteRule {
  name?: string;
  matches?: HTTPRouteMatch[];
  filters?: HTTPRouteFilter[];
  backendRefs?: HTTPBackendRef[];
  timeouts?: { request?: string; backendRequest?: string };
  retry?: { codes?: number[]; attempts?: number; backoff?: string };
}

export interface HTTPRouteMatch {
  path?: { type?: 'Exact' | 'PathPrefix' | 'RegularExpression'; value?: string };
  headers?: { type?: 'Exact' | 'RegularExpression'; name: string; value: string }[];
  queryParams?: { type?: 'Exact' | 'RegularExpression'; name: string; value: string }[];
  method?: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE' | 'CONNECT' | 'OPTIONS' | 'TRACE' | 'PATCH';
}

export interface HTTPHeaderModifier {
  set?: { name: string; value: string }[];
  add?: { name: string; value: string }[];
  remove?: string[];
}

export interface HTTPPathModifier {
  type: 'ReplaceFullPath' | 'ReplacePrefixMatch';
  replaceFullPath?: string;
  replacePrefixMatch?: string;
}

export interface HTTPRouteFilter {
  type: 'RequestHeaderModifier' | 'ResponseHeaderModifier' | 'RequestRedirect' | 'URLRewrite' | 'RequestMirror' | 'ExtensionRef';
  requestHeaderModifier?: HTTPHeaderModifier;
  responseHeaderModifier?: HTTPHeaderModifier;
  requestRedirect?: {
    scheme?: 'http' | 'https';
    hostname?: string;
    path?: HTTPPathModifier;
    port?: number;
    statusCode?: 301 | 302 | 303 | 307 | 308;
  };
  urlRewrite?: { hostname?: string; path?: HTTPPathModifier };
  requestMirror?: {
    backendRef: BackendObjectRef;
    percent?: number;
    fraction?: { numerator: number; denominator?: number };
  };
  extensionRef?: { group: string; kind: string; name: string };
}

export interface BackendObjectRef {
  group?: string;
  kind?: string;
  name: string;
  namespace?: string;
  port?: number;
}

export interface HTTPBackendRef extends BackendObjectRef {
  /** Default 1. */
  weight?: number;
  filters?: HTTPRouteFilter[];
}

// ---- Gateway API GRPCRoute (v1, GAMMA profile) -------------------------------------------

export type GRPCRoute = ResourceOf<'GRPCRoute', GRPCRouteSpec>;

export interface GRPCRouteSpec {
  parentRefs?: ParentRef[];
  hostnames?: string[];
  rules?: GRPCRouteRule[];
}

export interface GRPCRouteRule {
  name?: string;
  matches?: GRPCRouteMatch[];
  filters?: GRPCRouteFilter[];
  backendRefs?: GRPCBackendRef[];
}

/** GRPCRouteFilter: the filter types GRPCRoute has, each shaped as in HTTPRoute. */
export interface GRPCRouteFilter {
  type: 'RequestHeaderModifier' | 'ResponseHeaderModifier' | 'RequestMirror' | 'ExtensionRef';
  requestHeaderModifier?: HTTPHeaderModifier;
  responseHeaderModifier?: HTTPHeaderModifier;
  requestMirror?: HTTPRouteFilter['requestMirror'];
  extensionRef?: HTTPRouteFilter['extensionRef'];
}

export interface GRPCBackendRef extends BackendObjectRef {
  /** Default 1. */
  weight?: number;
  filters?: GRPCRouteFilter[];
}

export interface GRPCRouteMatch {
  /** At least one of service and method (schema-checked). */
  method?: { type?: 'Exact' | 'RegularExpression'; service?: string; method?: string };
  headers?: { type?: 'Exact' | 'RegularExpression'; name: string; value: string }[];
}

/**
 * GRPCRouteAsHTTP is a GRPCRoute seen through the HTTPRoute shape the later passes share: each
 * method match becomes the path match it selects (gRPC calls are `POST /<service>/<method>`,
 * compiler/grpcroute.ts), and `grpc` keeps the route as written for precedence and messages.
 */
export type GRPCRouteAsHTTP = ResourceOf<'GRPCRoute', HTTPRouteSpec> & { grpc: GRPCRouteSpec };

/** Route is any route the resolve pass attaches to a Service: HTTPRoute or GRPCRoute. */
export type Route = HTTPRoute | GRPCRouteAsHTTP;

// ---- Weft kinds -------------------------------------------------------------------------

export type Service = ResourceOf<'Service', ServiceSpec>;

export interface ServiceSpec {
  ports: { name: string; port: number; appProtocol?: string }[];
  endpoints?: { address: string; port?: number; labels?: Record<string, string>; meshed?: boolean }[];
  /** Overrides MeshConfig spec.mtls for this Service's inbound listeners. */
  mtls?: { mode: MtlsMode };
  /** What this Service's instances may call: `NAMESPACE/NAME`, `NAMESPACE/*`, `*\/*` [MeshConfig default, else `*\/*`]. */
  egress?: string[];
}

/** MtlsMode: STRICT inbound listeners take only mTLS; PERMISSIVE also plaintext (no identity). */
export type MtlsMode = 'STRICT' | 'PERMISSIVE';

/** TargetRef names the resource a policy attaches to (Gateway API policy attachment). */
export interface TargetRef {
  group?: string;
  kind: 'Service' | 'HTTPRoute';
  name: string;
  namespace?: string;
}

export type BackendPolicy = ResourceOf<'BackendPolicy', BackendPolicySpec>;

export interface BackendPolicySpec {
  targetRefs: TargetRef[];
  loadBalancer?: {
    type: 'RoundRobin' | 'LeastRequest' | 'Random' | 'ConsistentHash';
    hashOn?: { header?: string; clientAddress?: boolean };
  };
  connectionPool?: { maxConnections?: number; maxPendingRequests?: number };
  outlierDetection?: {
    consecutiveErrors?: number;
    interval?: string;
    baseEjectionTime?: string;
    maxEjectionPercent?: number;
  };
  retryBudget?: { percent?: number; minRetriesPerSecond?: number; interval?: string };
}

export type RateLimitPolicy = ResourceOf<'RateLimitPolicy', RateLimitPolicySpec>;

export interface RateLimitPolicySpec {
  targetRefs: TargetRef[];
  limits: { key: string; requests: number; per: string; burst?: number }[];
}

export type AuthorizationPolicy = ResourceOf<'AuthorizationPolicy', AuthorizationPolicySpec>;

export interface AuthorizationPolicySpec {
  targetRefs: TargetRef[];
  action: 'ALLOW' | 'DENY';
  rules: {
    from?: { service: string; namespace?: string }[];
    to?: { methods?: string[]; paths?: string[] }[];
    when?: { header: string; values: string[] }[];
  }[];
}

export type Fault = ResourceOf<'Fault', FaultSpec>;

export interface FaultSpec {
  delay?: { fixed: string; percent?: number };
  abort?: { status: number; percent?: number };
}

export type MeshConfig = ResourceOf<'MeshConfig', MeshConfigSpec>;

export interface MeshConfigSpec {
  defaults?: {
    timeouts?: { request?: string; backendRequest?: string };
    retry?: { attempts?: number; codes?: number[]; backoff?: string };
    /** Egress scope of every Service that sets none (entries as in ServiceSpec.egress). */
    egress?: string[];
  };
  authorization?: { default?: 'allow' | 'deny' };
  telemetry?: { accessLog?: boolean; tracing?: boolean };
  mtls?: { mode: MtlsMode };
}

export type RouteTest = ResourceOf<'RouteTest', RouteTestSpec>;

export interface RouteTestSpec {
  cases: RouteTestCase[];
}

export interface RouteTestCase {
  name: string;
  from?: string;
  request: { method?: string; url: string; headers?: Record<string, string> };
  expect: {
    backend?: string;
    backends?: Record<string, number>;
    status?: number;
    redirect?: { status?: number; location: string };
    path?: string;
    headers?: Record<string, string>;
  };
}
