/**
 * Egress scope: what a Service's instances may call. One definition shared by the compiler
 * (normalising what is written, cutting slices) and the router (refusing hosts outside it), so
 * the two can never disagree about what an entry covers.
 *
 * Entries are `NAMESPACE/NAME` (one Service), `NAMESPACE/*` (every Service of a namespace) and
 * `*\/*` (the whole mesh). A scope that is absent means `*\/*`.
 */
import type { EgressScope } from './bundle.js';

/** WHOLE_MESH is the scope that allows every Service: the default when nothing is written. */
export const WHOLE_MESH: readonly string[] = Object.freeze(['*/*']);

/**
 * normalizeEgress returns the canonical form of a list of entries: sorted (code-unit order),
 * without repeats, without entries another entry already covers (`ns/x` under `ns/*`, anything
 * under `*\/*`). Equal scopes give equal lists, so a rewritten but equivalent scope keeps the digest.
 */
export function normalizeEgress(entries: readonly string[]): EgressScope {
  if (entries.includes('*/*')) return ['*/*'];
  const wildcards = new Set<string>();
  for (const e of entries) if (e.endsWith('/*')) wildcards.add(e.slice(0, -2));
  const out = new Set<string>();
  for (const e of entries) {
    const slash = e.indexOf('/');
    if (!e.endsWith('/*') && wildcards.has(e.slice(0, slash))) continue;
    out.add(e);
  }
  return [...out].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * EgressMatcher answers "may this caller reach Service `namespace/name`?" in O(1) per question.
 * Built once per scope (the router keeps one per caller).
 */
export interface EgressMatcher {
  /** True when the scope is `*\/*` (or absent): every Service is allowed. */
  readonly wholeMesh: boolean;
  allows(serviceId: string): boolean;
}

/** egressMatcher builds the matcher of a scope; undefined (no scope written anywhere) is `*\/*`. */
export function egressMatcher(scope: readonly string[] | undefined): EgressMatcher {
  if (scope === undefined || scope.includes('*/*')) return { wholeMesh: true, allows: () => true };
  const names = new Set<string>();
  const namespaces = new Set<string>();
  for (const e of scope) {
    if (e.endsWith('/*')) namespaces.add(e.slice(0, -2));
    else names.add(e);
  }
  return {
    wholeMesh: false,
    allows: (id: string): boolean => names.has(id) || namespaces.has(id.slice(0, id.indexOf('/'))),
  };
}
