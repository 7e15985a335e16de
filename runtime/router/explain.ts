import { resolveHost } from './hosts.js';
import type { RouteRequest } from './request.js';
import { hostsFor, route, tableFor, type RouteDecision, type Router, type TableKind } from './router.js';
import { mismatch, RequestView, type MismatchReason } from './table.js';

/**
 * explainRoute answers "why did this request go there": it walks the chosen table in order and
 * reports, for every match considered before the winner, the first condition that failed. It
 * does the same work as `route` and more, so it is for `weft explain` / `weft test`, never the
 * hot path. Its `decision` is always identical to `route`'s.
 */

/** ConsideredMatch is one entry of the table as the explanation saw it. */
export interface ConsideredMatch {
  readonly index: number;
  readonly id: string;
  readonly rule: string;
  readonly matched: boolean;
  /** Null when matched. */
  readonly failed: MismatchReason | null;
}

/** RouteExplanation is the full story of one lookup. */
export interface RouteExplanation {
  readonly host: string;
  /** `namespace/name` of the resolved Service, or null when the host is unknown. */
  readonly service: string | null;
  readonly tableKind: TableKind | null;
  /** Every match up to and including the winner (all of them when none matched). */
  readonly considered: readonly ConsideredMatch[];
  readonly decision: RouteDecision;
}

/** explainRoute explains `route(router, host, callerNamespace, req, caller)`. */
export function explainRoute(router: Router, host: string, callerNamespace: string | null, req: RouteRequest, caller: string | null = null): RouteExplanation {
  const decision = route(router, host, callerNamespace, req, caller);
  const target = resolveHost(hostsFor(router, caller), host, callerNamespace);
  const service = target ? router.services.get(target.service.id) : undefined;
  if (!target || !service) return { host, service: null, tableKind: null, considered: [], decision };
  const { kind, table } = tableFor(service, callerNamespace);
  const considered: ConsideredMatch[] = [];
  if (table) {
    const view = new RequestView(req, target.port);
    for (const m of table.matches) {
      const failed = mismatch(m, view);
      considered.push({ index: m.index, id: m.source.id, rule: m.rule.id, matched: failed === null, failed });
      if (failed === null) break;
    }
  }
  return { host, service: service.entry.id, tableKind: kind, considered, decision };
}
