/**
 * Bundle types: the one contract between the compiler and the runtime. They are generated from
 * schemas/bundle.schema.json (schemas/generated/bundle.ts, by scripts/generate-types.mjs during
 * `npm run build`), so the types and the schema cannot drift; this module names them for use.
 * What each field means is written in the schema's descriptions, which the generated types carry.
 *
 * Conventions: durations are integers in milliseconds; a timeout of 0 means "disabled";
 * every list the proxy chooses from is already in precedence order; ids are stable strings.
 */
import type { MeshProxySettings, WeftBundle, ServiceEntry } from './generated/bundle.js';

export type {
  AuthorizationPolicyEntry,
  AuthorizationRule,
  BackendPolicySettings,
  BundleSignature,
  BundleSpec,
  EgressScope,
  Endpoint,
  FaultSpec,
  Filter,
  HeaderModifier,
  MeshProxySettings,
  MeshSettings,
  Mirror,
  PathMatch,
  PathModifier,
  RateLimit,
  Redirect,
  RetryPolicy,
  Revision,
  Rewrite,
  RouteIndex,
  RouteMatch,
  RouteTable,
  Routing,
  Rule,
  ServiceEntry,
  ServicePort,
  SourceLocation,
  Timeouts,
  ValueMatch,
  WeightedBackend,
} from './generated/bundle.js';

/** BUNDLE_API_VERSION is the bundle's apiVersion (the schema's `const`). */
export const BUNDLE_API_VERSION = 'weft.dev/bundle/v1' as const;

/** Bundle is one compiled commit. `digest` covers `spec` only (canonical JSON, sha256). */
export type Bundle = WeftBundle;

/** SourceMap maps a resource or rule id to where it was written (not covered by the digest). */
export type SourceMap = WeftBundle['sources'];

/** AuthorizationSettings: a Service's inbound DENY then ALLOW policies, each sorted by name. */
export type AuthorizationSettings = ServiceEntry['authorization'];

/** PathNormalization is MeshConfig spec.proxy.pathNormalization, filled in. */
export type PathNormalization = MeshProxySettings['pathNormalization'];
