/**
 * Test helper: builds BundleSpec / Bundle objects by hand, so runtime tests do not depend on the
 * compiler. Tables are taken in the order given (the test decides precedence, as the compiler
 * would) and the RouteIndex is derived from the paths, exactly as the bundle contract describes.
 */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import {
  BUNDLE_API_VERSION,
  type Bundle,
  type BundleSpec,
  type Endpoint,
  type Filter,
  type MeshSettings,
  type PathMatch,
  type RetryPolicy,
  type RouteMatch,
  type RouteTable,
  type Rule,
  type ServiceEntry,
  type Timeouts,
  type ValueMatch,
} from '../../schemas/bundle.js';
import { digestOf, keyIdOf, signingPayload } from '../../schemas/canonical.js';

/** MatchInput is a RouteMatch without the bookkeeping fields. */
export interface MatchInput {
  path?: PathMatch;
  method?: string | null;
  headers?: ValueMatch[];
  queryParams?: ValueMatch[];
  port?: number | null;
}

/** RuleInput is one rule: its matches (in precedence order) and actions. */
export interface RuleInput {
  /** Route name (default: `r`); ids become `ns/route#i`. */
  route?: string;
  matches?: MatchInput[];
  backends?: { service: string; weight?: number; port?: number; filters?: Filter[] }[];
  filters?: Filter[];
  timeouts?: Partial<Timeouts>;
  retry?: RetryPolicy | null;
  direct?: { status: number; reason: string } | null;
  /** Extra weight of invalid backends. */
  invalidWeight?: number;
}

/** DEFAULT_MESH is the mesh settings tests start from: no timeouts, no retries. */
export const DEFAULT_MESH: MeshSettings = {
  defaults: { timeouts: { requestMs: 0, backendRequestMs: 0 }, retry: null },
  authorization: { default: 'allow' },
  telemetry: { accessLog: false, tracing: true },
};

/** table builds a RouteTable from rules in precedence order (matches flattened rule by rule). */
export function table(namespace: string, rules: RuleInput[]): RouteTable {
  const outRules: Rule[] = [];
  const matches: RouteMatch[] = [];
  const counters = new Map<string, number>();
  rules.forEach((r) => {
    const routeName = r.route ?? 'r';
    const n = counters.get(routeName) ?? 0;
    counters.set(routeName, n + 1);
    const id = `${namespace}/${routeName}#${n}`;
    const backends = (r.backends ?? []).map((b) => ({ service: b.service.includes('/') ? b.service : `${namespace}/${b.service}`, port: b.port ?? 80, weight: b.weight ?? 1, filters: b.filters ?? [] }));
    const valid = backends.filter((b) => b.weight > 0);
    const totalWeight = valid.reduce((s, b) => s + b.weight, 0) + (r.invalidWeight ?? 0);
    const hasRedirect = (r.filters ?? []).some((f) => f.type === 'RequestRedirect');
    let direct = r.direct ?? null;
    if (direct === null && valid.length === 0 && !hasRedirect && (r.invalidWeight ?? 0) === 0) {
      direct = backends.length > 0 ? { status: 500, reason: 'all backend weights are 0' } : { status: 500, reason: 'rule has no backends' };
    }
    const ruleIndex = outRules.length;
    outRules.push({
      id,
      route: { namespace, name: routeName },
      filters: r.filters ?? [],
      backends: valid,
      totalWeight,
      direct,
      timeouts: { requestMs: r.timeouts?.requestMs ?? 0, backendRequestMs: r.timeouts?.backendRequestMs ?? 0 },
      retry: r.retry ?? null,
      rateLimits: [],
    });
    (r.matches ?? [{}]).forEach((m, j) => {
      const path = m.path ?? { type: 'PathPrefix', value: '/' };
      const value = path.type === 'PathPrefix' && path.value.length > 1 && path.value.endsWith('/') ? path.value.slice(0, -1) : path.value;
      matches.push({
        rule: ruleIndex,
        id: `${id}.${j}`,
        path: { type: path.type, value },
        method: m.method ?? null,
        headers: (m.headers ?? []).map((h) => ({ ...h, name: h.name.toLowerCase() })),
        queryParams: m.queryParams ?? [],
        port: m.port ?? null,
      });
    });
  });
  const index: RouteTable['index'] = { exact: {}, prefix: {}, regex: [] };
  matches.forEach((m, i) => {
    if (m.path.type === 'Exact') (index.exact[m.path.value] ??= []).push(i);
    else if (m.path.type === 'PathPrefix') (index.prefix[m.path.value] ??= []).push(i);
    else index.regex.push(i);
  });
  return { matches, rules: outRules, index };
}

/** ServiceInput describes a Service for `service`. */
export interface ServiceInput {
  namespace?: string;
  ports?: number[];
  endpoints?: (string | Endpoint)[];
  producer?: RuleInput[] | null;
  consumers?: Record<string, RuleInput[]>;
}

/** service builds a ServiceEntry; endpoints may be `host:port` strings. */
export function service(name: string, input: ServiceInput = {}): ServiceEntry {
  const namespace = input.namespace ?? 'default';
  const endpoints = (input.endpoints ?? []).map((e): Endpoint => {
    if (typeof e !== 'string') return e;
    const i = e.lastIndexOf(':');
    return { address: e.slice(0, i), port: Number(e.slice(i + 1)), labels: {} };
  });
  const consumers: Record<string, RouteTable> = {};
  for (const [ns, rules] of Object.entries(input.consumers ?? {})) consumers[ns] = table(ns, rules);
  return {
    id: `${namespace}/${name}`,
    name,
    namespace,
    ports: (input.ports ?? [80]).map((port) => ({ name: `http-${port}`, port })),
    endpoints: endpoints.sort((a, b) => (a.address === b.address ? a.port - b.port : a.address < b.address ? -1 : 1)),
    backendPolicy: {
      policy: null,
      loadBalancer: { type: 'RoundRobin' },
      connectionPool: null,
      outlierDetection: null,
      retryBudget: { percent: 20, minRetriesPerSecond: 10, intervalMs: 10_000 },
    },
    authorization: { deny: [], allow: [] },
    rateLimits: [],
    routing: { producer: input.producer ? table(namespace, input.producer) : null, consumers },
  };
}

/** spec assembles a BundleSpec (services sorted by id, as the compiler emits them). */
export function spec(services: ServiceEntry[], mesh: Partial<MeshSettings> = {}): BundleSpec {
  return { mesh: { ...DEFAULT_MESH, ...mesh }, services: [...services].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)) };
}

/** bundle wraps a spec with its digest; signs it when a private key is given. */
export function bundle(s: BundleSpec, opts: { revision?: Bundle['revision']; key?: KeyObject; publicKey?: KeyObject; issuedAt?: string } = {}): Bundle {
  const b: Bundle = { apiVersion: BUNDLE_API_VERSION, digest: digestOf(s), revision: opts.revision ?? null, spec: s, sources: {} };
  if (opts.key && opts.publicKey) {
    const keyId = keyIdOf(opts.publicKey.export({ type: 'spki', format: 'der' }));
    const issuedAt = opts.issuedAt ?? new Date().toISOString();
    b.signature = { alg: 'ed25519', issuedAt, keyId, value: sign(null, signingPayload(b, issuedAt), opts.key).toString('base64') };
  }
  return b;
}

/** keyPair makes an ed25519 key pair and its public key PEM. */
export function keyPair(): { privateKey: KeyObject; publicKey: KeyObject; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { privateKey, publicKey, publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

/** req builds a RouteRequest for router tests. */
export function req(method: string, target: string, headers: Record<string, string> = {}): { method: string; path: string; query: string; headers: Record<string, string> } {
  const q = target.indexOf('?');
  const lower: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) lower[k.toLowerCase()] = v;
  return { method, path: q === -1 ? target : target.slice(0, q), query: q === -1 ? '' : target.slice(q + 1), headers: lower };
}
