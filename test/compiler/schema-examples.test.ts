/**
 * The policy schemas as users meet them: every object refuses unknown fields, and the examples
 * of DESIGN.md and the example mesh in policies/ validate. (The TypeScript types are generated
 * from these schemas: test/schemas/generated-types.test.ts.)
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
import { API_VERSIONS } from '../../compiler/resources.js';
import type { PassContext } from '../../compiler/types.js';

type Json = Record<string, unknown>;

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
