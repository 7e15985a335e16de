/**
 * Keeps schemas/<kind>.schema.json and the types of compiler/resources.ts in step. Each key list
 * below is checked by the TypeScript compiler against a resources.ts type (`keysOf<T>()` takes
 * exactly T's keys: a missing or extra one does not compile), and by this test against the
 * schema's `properties` and `required` at the same place. The example policies (DESIGN.md's and
 * policies/) must validate, too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSchema } from '../../schemas/index.js';
import { parseYaml } from '../../compiler/parse.js';
import { validate } from '../../compiler/validate.js';
import { load } from '../../compiler/load.js';
import { parse } from '../../compiler/parse.js';
import { API_VERSIONS, type Kind } from '../../compiler/resources.js';
import type * as R from '../../compiler/resources.js';
import type { PassContext } from '../../compiler/types.js';

type RequiredKeys<T> = { [K in keyof T]-?: object extends Pick<T, K> ? never : K }[keyof T];
interface Shape {
  keys: string[];
  required: string[];
}
/** keysOf<T>() takes an object with exactly T's keys, each saying whether it is required. */
function keysOf<T>() {
  return (o: { [K in keyof Required<T>]: K extends RequiredKeys<T> ? 'required' : 'optional' }): Shape => ({
    keys: Object.keys(o).sort(),
    required: Object.entries(o)
      .filter(([, v]) => v === 'required')
      .map(([k]) => k)
      .sort(),
  });
}

type Item<A> = NonNullable<A> extends readonly (infer E)[] ? E : never;
type Of<T> = NonNullable<T>;
type Rule = R.HTTPRouteRule;
type Filter = R.HTTPRouteFilter;
type Match = R.HTTPRouteMatch;
type Case = R.RouteTestCase;
type AuthRule = Item<R.AuthorizationPolicySpec['rules']>;

/** Where in a kind's schema (property names; arrays are stepped into) each type's keys live. */
const SHAPES: Record<Kind, [string, Shape][]> = {
  HTTPRoute: [
    ['spec', keysOf<R.HTTPRouteSpec>()({ parentRefs: 'optional', hostnames: 'optional', rules: 'optional' })],
    ['spec.parentRefs', keysOf<R.ParentRef>()({ group: 'optional', kind: 'optional', namespace: 'optional', name: 'required', sectionName: 'optional', port: 'optional' })],
    ['spec.rules', keysOf<Rule>()({ name: 'optional', matches: 'optional', filters: 'optional', backendRefs: 'optional', timeouts: 'optional', retry: 'optional' })],
    ['spec.rules.timeouts', keysOf<Of<Rule['timeouts']>>()({ request: 'optional', backendRequest: 'optional' })],
    ['spec.rules.retry', keysOf<Of<Rule['retry']>>()({ codes: 'optional', attempts: 'optional', backoff: 'optional' })],
    ['spec.rules.matches', keysOf<Match>()({ path: 'optional', headers: 'optional', queryParams: 'optional', method: 'optional' })],
    ['spec.rules.matches.path', keysOf<Of<Match['path']>>()({ type: 'optional', value: 'optional' })],
    ['spec.rules.matches.headers', keysOf<Item<Match['headers']>>()({ type: 'optional', name: 'required', value: 'required' })],
    ['spec.rules.matches.queryParams', keysOf<Item<Match['queryParams']>>()({ type: 'optional', name: 'required', value: 'required' })],
    ['spec.rules.filters', keysOf<Filter>()({ type: 'required', requestHeaderModifier: 'optional', responseHeaderModifier: 'optional', requestRedirect: 'optional', urlRewrite: 'optional', requestMirror: 'optional', extensionRef: 'optional' })],
    ['spec.rules.filters.requestHeaderModifier', keysOf<R.HTTPHeaderModifier>()({ set: 'optional', add: 'optional', remove: 'optional' })],
    ['spec.rules.filters.requestHeaderModifier.set', keysOf<Item<R.HTTPHeaderModifier['set']>>()({ name: 'required', value: 'required' })],
    ['spec.rules.filters.responseHeaderModifier.add', keysOf<Item<R.HTTPHeaderModifier['add']>>()({ name: 'required', value: 'required' })],
    ['spec.rules.filters.requestRedirect', keysOf<Of<Filter['requestRedirect']>>()({ scheme: 'optional', hostname: 'optional', path: 'optional', port: 'optional', statusCode: 'optional' })],
    ['spec.rules.filters.requestRedirect.path', keysOf<R.HTTPPathModifier>()({ type: 'required', replaceFullPath: 'optional', replacePrefixMatch: 'optional' })],
    ['spec.rules.filters.urlRewrite', keysOf<Of<Filter['urlRewrite']>>()({ hostname: 'optional', path: 'optional' })],
    ['spec.rules.filters.requestMirror', keysOf<Of<Filter['requestMirror']>>()({ backendRef: 'required', percent: 'optional', fraction: 'optional' })],
    ['spec.rules.filters.requestMirror.backendRef', keysOf<R.BackendObjectRef>()({ group: 'optional', kind: 'optional', name: 'required', namespace: 'optional', port: 'optional' })],
    ['spec.rules.filters.requestMirror.fraction', keysOf<Of<Of<Filter['requestMirror']>['fraction']>>()({ numerator: 'required', denominator: 'optional' })],
    ['spec.rules.filters.extensionRef', keysOf<Of<Filter['extensionRef']>>()({ group: 'required', kind: 'required', name: 'required' })],
    ['spec.rules.backendRefs', keysOf<R.HTTPBackendRef>()({ group: 'optional', kind: 'optional', name: 'required', namespace: 'optional', port: 'optional', weight: 'optional', filters: 'optional' })],
    ['spec.rules.backendRefs.filters', keysOf<Filter>()({ type: 'required', requestHeaderModifier: 'optional', responseHeaderModifier: 'optional', requestRedirect: 'optional', urlRewrite: 'optional', requestMirror: 'optional', extensionRef: 'optional' })],
  ],
  GRPCRoute: [
    ['spec', keysOf<R.GRPCRouteSpec>()({ parentRefs: 'optional', hostnames: 'optional', rules: 'optional' })],
    ['spec.rules', keysOf<R.GRPCRouteRule>()({ name: 'optional', matches: 'optional', filters: 'optional', backendRefs: 'optional' })],
    ['spec.rules.matches', keysOf<R.GRPCRouteMatch>()({ method: 'optional', headers: 'optional' })],
    ['spec.rules.matches.method', keysOf<Of<R.GRPCRouteMatch['method']>>()({ type: 'optional', service: 'optional', method: 'optional' })],
    ['spec.rules.matches.headers', keysOf<Item<R.GRPCRouteMatch['headers']>>()({ type: 'optional', name: 'required', value: 'required' })],
    ['spec.rules.filters', keysOf<R.GRPCRouteFilter>()({ type: 'required', requestHeaderModifier: 'optional', responseHeaderModifier: 'optional', requestMirror: 'optional', extensionRef: 'optional' })],
    ['spec.rules.backendRefs', keysOf<R.GRPCBackendRef>()({ group: 'optional', kind: 'optional', name: 'required', namespace: 'optional', port: 'optional', weight: 'optional', filters: 'optional' })],
  ],
  Service: [
    ['spec', keysOf<R.ServiceSpec>()({ ports: 'required', endpoints: 'optional', mtls: 'optional', egress: 'optional' })],
    ['spec.mtls', keysOf<Of<R.ServiceSpec['mtls']>>()({ mode: 'required' })],
    ['spec.ports', keysOf<Item<R.ServiceSpec['ports']>>()({ name: 'required', port: 'required', appProtocol: 'optional' })],
    ['spec.endpoints', keysOf<Item<R.ServiceSpec['endpoints']>>()({ address: 'required', port: 'optional', labels: 'optional', meshed: 'optional' })],
  ],
  BackendPolicy: [
    ['spec', keysOf<R.BackendPolicySpec>()({ targetRefs: 'required', loadBalancer: 'optional', connectionPool: 'optional', outlierDetection: 'optional', retryBudget: 'optional' })],
    ['spec.targetRefs', keysOf<R.TargetRef>()({ group: 'optional', kind: 'required', name: 'required', namespace: 'optional' })],
    ['spec.loadBalancer', keysOf<Of<R.BackendPolicySpec['loadBalancer']>>()({ type: 'required', hashOn: 'optional' })],
    ['spec.loadBalancer.hashOn', keysOf<Of<Of<R.BackendPolicySpec['loadBalancer']>['hashOn']>>()({ header: 'optional', clientAddress: 'optional' })],
    ['spec.connectionPool', keysOf<Of<R.BackendPolicySpec['connectionPool']>>()({ maxConnections: 'optional', maxPendingRequests: 'optional' })],
    ['spec.outlierDetection', keysOf<Of<R.BackendPolicySpec['outlierDetection']>>()({ consecutiveErrors: 'optional', interval: 'optional', baseEjectionTime: 'optional', maxEjectionPercent: 'optional' })],
    ['spec.retryBudget', keysOf<Of<R.BackendPolicySpec['retryBudget']>>()({ percent: 'optional', minRetriesPerSecond: 'optional', interval: 'optional' })],
  ],
  RateLimitPolicy: [
    ['spec', keysOf<R.RateLimitPolicySpec>()({ targetRefs: 'required', limits: 'required' })],
    ['spec.targetRefs', keysOf<R.TargetRef>()({ group: 'optional', kind: 'required', name: 'required', namespace: 'optional' })],
    ['spec.limits', keysOf<Item<R.RateLimitPolicySpec['limits']>>()({ key: 'required', requests: 'required', per: 'required', burst: 'optional' })],
  ],
  AuthorizationPolicy: [
    ['spec', keysOf<R.AuthorizationPolicySpec>()({ targetRefs: 'required', action: 'required', rules: 'required' })],
    ['spec.rules', keysOf<AuthRule>()({ from: 'optional', to: 'optional', when: 'optional' })],
    ['spec.rules.from', keysOf<Item<AuthRule['from']>>()({ service: 'required', namespace: 'optional' })],
    ['spec.rules.to', keysOf<Item<AuthRule['to']>>()({ methods: 'optional', paths: 'optional' })],
    ['spec.rules.when', keysOf<Item<AuthRule['when']>>()({ header: 'required', values: 'required' })],
  ],
  Fault: [
    ['spec', keysOf<R.FaultSpec>()({ delay: 'optional', abort: 'optional' })],
    ['spec.delay', keysOf<Of<R.FaultSpec['delay']>>()({ fixed: 'required', percent: 'optional' })],
    ['spec.abort', keysOf<Of<R.FaultSpec['abort']>>()({ status: 'required', percent: 'optional' })],
  ],
  MeshConfig: [
    ['spec', keysOf<R.MeshConfigSpec>()({ defaults: 'optional', authorization: 'optional', telemetry: 'optional', mtls: 'optional' })],
    ['spec.mtls', keysOf<Of<R.MeshConfigSpec['mtls']>>()({ mode: 'required' })],
    ['spec.defaults', keysOf<Of<R.MeshConfigSpec['defaults']>>()({ timeouts: 'optional', retry: 'optional', egress: 'optional' })],
    ['spec.defaults.timeouts', keysOf<Of<Of<R.MeshConfigSpec['defaults']>['timeouts']>>()({ request: 'optional', backendRequest: 'optional' })],
    ['spec.defaults.retry', keysOf<Of<Of<R.MeshConfigSpec['defaults']>['retry']>>()({ attempts: 'optional', codes: 'optional', backoff: 'optional' })],
    ['spec.authorization', keysOf<Of<R.MeshConfigSpec['authorization']>>()({ default: 'optional' })],
    ['spec.telemetry', keysOf<Of<R.MeshConfigSpec['telemetry']>>()({ accessLog: 'optional', tracing: 'optional' })],
  ],
  RouteTest: [
    ['spec', keysOf<R.RouteTestSpec>()({ cases: 'required' })],
    ['spec.cases', keysOf<Case>()({ name: 'required', from: 'optional', request: 'required', expect: 'required' })],
    ['spec.cases.request', keysOf<Case['request']>()({ method: 'optional', url: 'required', headers: 'optional' })],
    ['spec.cases.expect', keysOf<Case['expect']>()({ backend: 'optional', backends: 'optional', status: 'optional', redirect: 'optional', path: 'optional', headers: 'optional' })],
    ['spec.cases.expect.redirect', keysOf<Of<Case['expect']['redirect']>>()({ status: 'optional', location: 'required' })],
  ],
};

// Metadata.namespace is required in the type because validate fills it; in YAML it is optional.
const METADATA = keysOf<R.Metadata>()({ name: 'required', namespace: 'required', creationTimestamp: 'optional', labels: 'optional', annotations: 'optional' });

type Json = Record<string, unknown>;

function deref(root: Json, node: Json): Json {
  let n = node;
  while (typeof n.$ref === 'string') {
    const ref = n.$ref;
    assert.ok(ref.startsWith('#/$defs/'), `only local $refs: ${ref}`);
    n = (root.$defs as Json)[ref.slice('#/$defs/'.length)] as Json;
  }
  return n;
}

function objectAt(root: Json, dotted: string): Json {
  let node = deref(root, root);
  for (const step of dotted.split('.')) {
    node = deref(root, (node.properties as Json)[step] as Json);
    assert.ok(node, `${dotted}: no property ${step}`);
    if (node.type === 'array') node = deref(root, node.items as Json);
  }
  return node;
}

for (const kind of Object.keys(SHAPES) as Kind[]) {
  test(`schema ${kind.toLowerCase()}.schema.json has the fields of resources.ts`, () => {
    const root = loadSchema(kind.toLowerCase()) as Json;
    assert.equal((root.properties as Json & { apiVersion: { const: string } }).apiVersion.const, API_VERSIONS[kind]);
    assert.deepEqual((root.required as string[]).slice().sort(), ['apiVersion', 'kind', 'metadata', 'spec']);
    const meta = deref(root, (root.properties as Json).metadata as Json);
    assert.deepEqual(Object.keys(meta.properties as Json).sort(), METADATA.keys);
    assert.deepEqual(meta.required, ['name']);
    for (const [where, shape] of SHAPES[kind]) {
      const node = objectAt(root, where);
      assert.equal(node.additionalProperties, false, `${where}: additionalProperties must be false`);
      assert.deepEqual(Object.keys(node.properties as Json).sort(), shape.keys, `${where}: properties`);
      assert.deepEqual(((node.required as string[] | undefined) ?? []).slice().sort(), shape.required, `${where}: required`);
    }
  });
}

test('every object schema of every kind forbids unknown fields', () => {
  const walk = (node: unknown, where: string): void => {
    if (typeof node !== 'object' || node === null) return;
    const n = node as Json;
    if (n.properties !== undefined && n.type === 'object') assert.equal(n.additionalProperties, false, where);
    for (const [k, v] of Object.entries(n)) walk(v, `${where}/${k}`);
  };
  for (const kind of Object.keys(API_VERSIONS)) walk(loadSchema(kind.toLowerCase()), kind);
});

function ctx(): PassContext {
  return { options: { dir: '.' }, diagnostics: [], revision: null };
}

const DESIGN_EXAMPLES = `apiVersion: weft.dev/v1alpha1
kind: Service
metadata: { name: reviews-v1 }
spec:
  ports: [{ name: http, port: 9080 }]
  endpoints:
    - { address: 127.0.0.1, port: 19081, labels: { version: v1 } }
---
apiVersion: weft.dev/v1alpha1
kind: BackendPolicy
metadata: { name: reviews-v1 }
spec:
  targetRefs: [{ kind: Service, name: reviews-v1 }]
  loadBalancer: { type: LeastRequest }
  connectionPool: { maxConnections: 100, maxPendingRequests: 1000 }
  outlierDetection: { consecutiveErrors: 5, interval: 10s, baseEjectionTime: 30s, maxEjectionPercent: 50 }
  retryBudget: { percent: 20, minRetriesPerSecond: 10 }
---
apiVersion: weft.dev/v1alpha1
kind: RateLimitPolicy
metadata: { name: ratings }
spec:
  targetRefs: [{ kind: Service, name: ratings }]
  limits:
    - key: caller
      requests: 100
      per: 1s
      burst: 20
---
apiVersion: weft.dev/v1alpha1
kind: AuthorizationPolicy
metadata: { name: ratings }
spec:
  targetRefs: [{ kind: Service, name: ratings }]
  action: ALLOW
  rules:
    - from: [{ service: reviews-v2 }, { service: reviews-v3, namespace: default }]
      to: [{ methods: [GET], paths: ["/ratings/*"] }]
      when: [{ header: x-env, values: [prod] }]
---
apiVersion: weft.dev/v1alpha1
kind: Fault
metadata: { name: ratings-slow }
spec:
  delay: { fixed: 2s, percent: 50 }
  abort: { status: 503, percent: 10 }
---
apiVersion: weft.dev/v1alpha1
kind: MeshConfig
metadata: { name: mesh }
spec:
  defaults:
    timeouts: { request: 15s }
    retry: { attempts: 1, codes: [503], backoff: 25ms }
  authorization: { default: allow }
  telemetry: { accessLog: false, tracing: true }
---
apiVersion: weft.dev/v1alpha1
kind: RouteTest
metadata: { name: reviews-canary }
spec:
  cases:
    - name: beta users reach v2
      from: productpage
      request:
        method: GET
        url: http://reviews/api/reviews/1
        headers: { x-user: beta }
      expect:
        backend: reviews-v2
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: reviews, namespace: default }
spec:
  parentRefs: [{ group: "", kind: Service, name: reviews, port: 9080 }]
  rules:
    - matches:
        - path: { type: PathPrefix, value: /api }
          headers: [{ name: x-user, value: beta }]
          queryParams: [{ type: RegularExpression, name: v, value: "^[0-9]+$" }]
          method: GET
      filters:
        - type: RequestHeaderModifier
          requestHeaderModifier: { set: [{ name: x-canary, value: "true" }], remove: [x-debug] }
        - type: URLRewrite
          urlRewrite: { path: { type: ReplacePrefixMatch, replacePrefixMatch: "" } }
        - type: RequestMirror
          requestMirror: { backendRef: { name: reviews-shadow, port: 9080 }, fraction: { numerator: 1, denominator: 10 } }
        - type: ExtensionRef
          extensionRef: { group: weft.dev, kind: Fault, name: ratings-slow }
      backendRefs:
        - { name: reviews-v1, port: 9080, weight: 90 }
        - name: reviews-v2
          port: 9080
          weight: 10
          filters: [{ type: ResponseHeaderModifier, responseHeaderModifier: { add: [{ name: x-v, value: "2" }] } }]
      timeouts: { request: 10s, backendRequest: 2s }
      retry: { attempts: 2, codes: [502, 503], backoff: 100ms }
    - matches: [{ path: { type: Exact, value: /old } }]
      filters:
        - type: RequestRedirect
          requestRedirect: { scheme: https, hostname: example.org, path: { type: ReplaceFullPath, replaceFullPath: /new }, statusCode: 301 }
`;

test('the examples of DESIGN.md (and an HTTPRoute using every field) validate', () => {
  const c = ctx();
  const documents = parseYaml('design.yaml', DESIGN_EXAMPLES, c);
  const { resources } = validate({ documents }, c);
  assert.deepEqual(c.diagnostics.map((d) => `${d.code} ${d.line}:${d.column} ${d.message}`), []);
  assert.equal(resources.length, 8);
  assert.ok(resources.every((r) => r.metadata.namespace === 'default'));
});

test('the example mesh in policies/ validates', async () => {
  const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'policies');
  const c = ctx();
  const tree = await load({ dir }, c);
  const parsed = await parse(tree, c);
  validate(parsed, c);
  assert.deepEqual(c.diagnostics.map((d) => `${d.code} ${d.file}:${d.line}:${d.column} ${d.message}`), []);
});
