/**
 * runtime/router: the route table as a pure function of a bundle (imports only schemas/ and re2js).
 * Used by the proxy and by `weft test` / `weft explain`, so both run the very same code.
 */
export { buildRouter, hostsFor, route, routeService, tableFor } from './router.js';
export type { BuildOptions, CompiledService, RouteDecision, Router, TableKind } from './router.js';
export { chooseBackend, backendShares } from './backend.js';
export type { BackendChoice, RandomSource } from './backend.js';
export { explainRoute } from './explain.js';
export type { ConsideredMatch, RouteExplanation } from './explain.js';
export { resolveHost, splitHostPort } from './hosts.js';
export type { HostTarget } from './hosts.js';
export { splitTarget, parseQuery, headerValue, fieldSeparator } from './request.js';
export type { RouteRequest } from './request.js';
export { RegexCompileError } from './table.js';
export type { CompiledMatch, CompiledTable, MismatchReason } from './table.js';
