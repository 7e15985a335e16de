/**
 * Router conformance cases: one shared table of (bundle, request) → expected decision. The
 * router unit test runs them; the proxy integration test replays a subset over real HTTP, so
 * the router and the proxy are held to the same expectations.
 */
import type { BundleSpec } from '../../../schemas/bundle.js';
import { service, spec } from '../../helpers/bundle-builder.js';

/** RouterCase: `expect` is a rule id (`ns/route#i`), `direct` for a tableless Service, or a 404 reason. */
export interface RouterCase {
  name: string;
  host: string;
  caller?: string | null;
  method?: string;
  target: string;
  headers?: Record<string, string>;
  expect: string | { notFound: 'unknown-host' | 'no-route' };
}

/** SPEC is the bundle every case runs against. */
export const SPEC: BundleSpec = spec([
  service('plain', { endpoints: ['127.0.0.1:1'] }),
  service('web', {
    ports: [80, 8080],
    producer: [
      { route: 'exact', matches: [{ path: { type: 'Exact', value: '/login' } }], backends: [{ service: 'plain' }] },
      { route: 'deep', matches: [{ path: { type: 'PathPrefix', value: '/api/v1' } }], backends: [{ service: 'plain' }] },
      { route: 'method', matches: [{ path: { type: 'PathPrefix', value: '/api' }, method: 'POST' }], backends: [{ service: 'plain' }] },
      {
        route: 'hdr',
        matches: [{ path: { type: 'PathPrefix', value: '/api' }, headers: [{ type: 'Exact', name: 'X-User', value: 'beta' }, { type: 'RegularExpression', name: 'x-env', value: 'prod|stage' }] }],
        backends: [{ service: 'plain' }],
      },
      { route: 'query', matches: [{ path: { type: 'PathPrefix', value: '/api' }, queryParams: [{ type: 'Exact', name: 'Debug', value: '1' }] }], backends: [{ service: 'plain' }] },
      { route: 'port', matches: [{ path: { type: 'PathPrefix', value: '/api' }, port: 8080 }], backends: [{ service: 'plain' }] },
      { route: 'api', matches: [{ path: { type: 'PathPrefix', value: '/api/' } }], backends: [{ service: 'plain' }] },
      { route: 'regex', matches: [{ path: { type: 'RegularExpression', value: '/v[0-9]+/items' } }], backends: [{ service: 'plain' }] },
      { route: 'multi', matches: [{ path: { type: 'Exact', value: '/a' } }, { path: { type: 'Exact', value: '/b' } }], backends: [{ service: 'plain' }] },
      { route: 'root', matches: [{ path: { type: 'PathPrefix', value: '/static' } }, { path: { type: 'RegularExpression', value: '/s.*' } }], backends: [{ service: 'plain' }] },
    ],
    consumers: { team: [{ route: 'mine', matches: [{ path: { type: 'PathPrefix', value: '/' } }], backends: [{ service: 'default/plain' }] }] },
  }),
  service('web', { namespace: 'other', producer: [{ route: 'o', matches: [{ path: { type: 'Exact', value: '/' } }], backends: [{ service: 'plain' }] }] }),
  service('only', { namespace: 'far', endpoints: ['127.0.0.1:2'] }),
]);

/** CASES cover every match type, precedence by table order, host forms and table choice. */
export const CASES: RouterCase[] = [
  // host forms
  { name: 'bare name in caller namespace', host: 'plain', caller: 'default', target: '/', expect: 'default/plain#direct' },
  { name: 'name.ns', host: 'plain.default', target: '/x', expect: 'default/plain#direct' },
  { name: 'name.ns.svc with port', host: 'plain.default.svc:80', target: '/x', expect: 'default/plain#direct' },
  { name: 'fully qualified, upper case, trailing dot', host: 'PLAIN.default.svc.cluster.local.', target: '/', expect: 'default/plain#direct' },
  { name: 'bare name unique across the mesh', host: 'only', caller: 'default', target: '/', expect: 'far/only#direct' },
  { name: 'bare name resolved in caller namespace first', host: 'web', caller: 'other', target: '/', expect: 'other/o#0' },
  { name: 'ambiguous bare name from an unrelated namespace', host: 'web', caller: 'zzz', target: '/', expect: { notFound: 'unknown-host' } },
  { name: 'unknown host', host: 'nope', target: '/', expect: { notFound: 'unknown-host' } },
  { name: 'unknown port', host: 'plain:81', target: '/', expect: { notFound: 'unknown-host' } },
  { name: 'IP address is not a service', host: '127.0.0.1:1', target: '/', expect: { notFound: 'unknown-host' } },
  // Exact
  { name: 'exact matches', host: 'web.default', target: '/login', expect: 'default/exact#0' },
  { name: 'exact is case-sensitive', host: 'web.default', target: '/Login', expect: { notFound: 'no-route' } },
  { name: 'exact does not ignore trailing slash', host: 'web.default', target: '/login/', expect: { notFound: 'no-route' } },
  { name: 'exact ignores the query', host: 'web.default', target: '/login?x=1', expect: 'default/exact#0' },
  // PathPrefix
  { name: 'prefix matches itself', host: 'web.default', target: '/api', expect: 'default/api#0' },
  { name: 'prefix matches with trailing slash', host: 'web.default', target: '/api/', expect: 'default/api#0' },
  { name: 'prefix matches sub-path', host: 'web.default', target: '/api/x/y', expect: 'default/api#0' },
  { name: 'prefix is whole segments', host: 'web.default', target: '/apix', expect: { notFound: 'no-route' } },
  { name: 'earlier deeper prefix wins', host: 'web.default', target: '/api/v1/users', expect: 'default/deep#0' },
  { name: 'deep prefix exact segment', host: 'web.default', target: '/api/v1', expect: 'default/deep#0' },
  { name: 'deep prefix not partial', host: 'web.default', target: '/api/v10', expect: 'default/api#0' },
  // method, headers, query, port: earlier entries in table order win
  { name: 'method match', host: 'web.default', method: 'POST', target: '/api/x', expect: 'default/method#0' },
  { name: 'headers: case-insensitive names, all must match', host: 'web.default', target: '/api/x', headers: { 'x-user': 'beta', 'X-Env': 'stage' }, expect: 'default/hdr#0' },
  { name: 'headers: value is case-sensitive', host: 'web.default', target: '/api/x', headers: { 'x-user': 'Beta', 'x-env': 'prod' }, expect: 'default/api#0' },
  { name: 'headers: regex is full-match', host: 'web.default', target: '/api/x', headers: { 'x-user': 'beta', 'x-env': 'production' }, expect: 'default/api#0' },
  { name: 'headers: one missing', host: 'web.default', target: '/api/x', headers: { 'x-user': 'beta' }, expect: 'default/api#0' },
  { name: 'query: first value counts', host: 'web.default', target: '/api/x?Debug=1&Debug=2', expect: 'default/query#0' },
  { name: 'query: name is case-sensitive', host: 'web.default', target: '/api/x?debug=1', expect: 'default/api#0' },
  { name: 'query: second value ignored', host: 'web.default', target: '/api/x?Debug=2&Debug=1', expect: 'default/api#0' },
  { name: 'query: percent-decoded', host: 'web.default', target: '/api/x?%44ebug=%31', expect: 'default/query#0' },
  { name: 'port: matches its port', host: 'web.default:8080', target: '/api/x', expect: 'default/port#0' },
  { name: 'port: other port skips it', host: 'web.default:80', target: '/api/x', expect: 'default/api#0' },
  { name: 'method beats headers by table order', host: 'web.default', method: 'POST', target: '/api/x', headers: { 'x-user': 'beta', 'x-env': 'prod' }, expect: 'default/method#0' },
  // RegularExpression
  { name: 'regex full match', host: 'web.default', target: '/v2/items', expect: 'default/regex#0' },
  { name: 'regex is anchored at the end', host: 'web.default', target: '/v2/items/3', expect: { notFound: 'no-route' } },
  { name: 'regex is anchored at the start', host: 'web.default', target: '/x/v2/items', expect: { notFound: 'no-route' } },
  // multiple matches of one rule are ORed; table order across kinds
  { name: 'second match of a rule', host: 'web.default', target: '/b', expect: 'default/multi#0' },
  { name: 'prefix before regex in table order', host: 'web.default', target: '/static/x', expect: 'default/root#0' },
  { name: 'regex after prefix when prefix fails', host: 'web.default', target: '/src', expect: 'default/root#0' },
  // table choice (GAMMA)
  { name: 'consumer table for caller namespace', host: 'web.default', caller: 'team', target: '/login', expect: 'team/mine#0' },
  { name: 'producer table for other namespaces', host: 'web.default', caller: 'elsewhere', target: '/login', expect: 'default/exact#0' },
  { name: 'producer table for unknown caller', host: 'web.default', caller: null, target: '/login', expect: 'default/exact#0' },
];
