/**
 * Resource types: the policy kinds as the validate pass hands them on. The shapes are generated
 * from the kinds' JSON Schemas (schemas/generated/<kind>.ts, by scripts/generate-types.mjs during
 * `npm run build`), so a type cannot disagree with its schema; this module names the parts the
 * passes use. A value of these types has passed its schema, so optional fields are the only
 * unknowns; validate also fills `metadata.namespace`.
 */
import type { SourceSpan } from './positions.js';
import type * as AuthorizationPolicySchema from '../schemas/generated/authorizationpolicy.js';
import type * as BackendPolicySchema from '../schemas/generated/backendpolicy.js';
import type * as FaultSchema from '../schemas/generated/fault.js';
import type * as GRPCRouteSchema from '../schemas/generated/grpcroute.js';
import type * as HTTPRouteSchema from '../schemas/generated/httproute.js';
import type * as MeshConfigSchema from '../schemas/generated/meshconfig.js';
import type * as RateLimitPolicySchema from '../schemas/generated/ratelimitpolicy.js';
import type * as RouteTestSchema from '../schemas/generated/routetest.js';
import type * as ServiceSchema from '../schemas/generated/service.js';

/** Item is the element type of an optional list field. */
type Item<T> = NonNullable<T> extends readonly (infer E)[] ? E : never;

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

/** Metadata as validate hands it on: `namespace` is always set (`default` when absent). */
export type Metadata = Omit<HTTPRouteSchema.Metadata, 'namespace'> & { namespace: string };

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

/**
 * Ids made so far, per resource object: a resource never changes, and the incremental compiler
 * hands unchanged ones on from commit to commit, so their ids (and the hashes the id indexes
 * compute over them) are made once.
 */
const ids = new WeakMap<object, string>();

/** resourceId is `Kind/namespace/name`: unique across a repository. */
export function resourceId(r: { kind: string; metadata: { namespace: string; name: string } }): string {
  let id = ids.get(r);
  if (id === undefined) ids.set(r, (id = `${r.kind}/${r.metadata.namespace}/${r.metadata.name}`));
  return id;
}

/** namespacedName is `namespace/name` (a Service's id), made once per resource object as resourceId is. */
export function namespacedName(r: { metadata: { namespace: string; name: string } }): string {
  let id = names.get(r);
  if (id === undefined) names.set(r, (id = `${r.metadata.namespace}/${r.metadata.name}`));
  return id;
}
const names = new WeakMap<object, string>();

// ---- Gateway API HTTPRoute (v1, GAMMA profile) -------------------------------------------

export type HTTPRoute = ResourceOf<'HTTPRoute', HTTPRouteSpec>;
export type HTTPRouteSpec = HTTPRouteSchema.HTTPRoute['spec'];
export type ParentRef = Item<HTTPRouteSpec['parentRefs']>;
export type HTTPRouteRule = Item<HTTPRouteSpec['rules']>;
export type HTTPRouteMatch = Item<HTTPRouteRule['matches']>;
export type HTTPHeaderModifier = HTTPRouteSchema.HeaderModifier;
export type HTTPPathModifier = HTTPRouteSchema.PathModifier;
export type HTTPRouteFilter = HTTPRouteSchema.Filter;
export type BackendObjectRef = HTTPRouteSchema.BackendObjectRef;
/** HTTPBackendRef: a BackendObjectRef with `weight` (default 1) and per-backend filters. */
export type HTTPBackendRef = Item<HTTPRouteRule['backendRefs']>;

// ---- Gateway API GRPCRoute (v1, GAMMA profile) -------------------------------------------

export type GRPCRoute = ResourceOf<'GRPCRoute', GRPCRouteSpec>;
export type GRPCRouteSpec = GRPCRouteSchema.GRPCRoute['spec'];
export type GRPCRouteRule = Item<GRPCRouteSpec['rules']>;
/** GRPCRouteFilter: the filter types GRPCRoute has, each shaped as in HTTPRoute. */
export type GRPCRouteFilter = GRPCRouteSchema.Filter;
export type GRPCBackendRef = Item<GRPCRouteRule['backendRefs']>;
/** GRPCRouteMatch: a method match has at least one of service and method (schema-checked). */
export type GRPCRouteMatch = Item<GRPCRouteRule['matches']>;

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
export type ServiceSpec = ServiceSchema.Service['spec'];

/** MtlsMode: STRICT inbound listeners take only mTLS; PERMISSIVE also plaintext (no identity). */
export type MtlsMode = NonNullable<ServiceSpec['mtls']>['mode'];

/** TargetRef names the resource a policy attaches to (Gateway API policy attachment). */
export type TargetRef = Item<RateLimitPolicySpec['targetRefs']>;

export type BackendPolicy = ResourceOf<'BackendPolicy', BackendPolicySpec>;
export type BackendPolicySpec = BackendPolicySchema.BackendPolicy['spec'];

export type RateLimitPolicy = ResourceOf<'RateLimitPolicy', RateLimitPolicySpec>;
export type RateLimitPolicySpec = RateLimitPolicySchema.RateLimitPolicy['spec'];

export type AuthorizationPolicy = ResourceOf<'AuthorizationPolicy', AuthorizationPolicySpec>;
export type AuthorizationPolicySpec = AuthorizationPolicySchema.AuthorizationPolicy['spec'];

export type Fault = ResourceOf<'Fault', FaultSpec>;
export type FaultSpec = FaultSchema.Fault['spec'];

export type MeshConfig = ResourceOf<'MeshConfig', MeshConfigSpec>;
export type MeshConfigSpec = MeshConfigSchema.MeshConfig['spec'];

export type RouteTest = ResourceOf<'RouteTest', RouteTestSpec>;
export type RouteTestSpec = RouteTestSchema.RouteTest['spec'];
export type RouteTestCase = Item<RouteTestSpec['cases']>;
