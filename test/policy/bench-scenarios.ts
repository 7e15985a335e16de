/**
 * The policy scenarios of `npm run bench:proxy` (test/bench/proxy.bench.ts lists them with one
 * line): the same upstream through a Weft INBOUND listener, once with no policy and once with an
 * AuthorizationPolicy of 10 rules plus a RateLimitPolicy on the Service, so the table shows
 * what the inbound policies cost (goal: ≤ 10% of throughput).
 *
 * The load driver sends no caller identity, so the 9 `from` rules never match and the 10th
 * (GET /api/*, any caller) admits the request: every request walks all ten rules. The rate limit
 * is keyed by client address with a limit far above the load: every request refills and takes
 * a token, none is refused.
 */
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { AuthorizationRule, Bundle } from '../../schemas/bundle.js';
import { bundle, service, spec } from '../helpers/bundle-builder.js';

/** BenchTools are the bench's own process helpers, passed in so both files share them. */
export interface BenchTools {
  weft: string;
  freePort(): Promise<number>;
  startChild(args: string[], readyText: string): Promise<ChildProcess>;
  stopChild(c: ChildProcess): Promise<void>;
  tempDir(prefix: string): string;
  writeBundle(file: string, b: Bundle): void;
}

/** PolicyScenario has the shape of the bench's Scenario. */
export interface PolicyScenario {
  name: string;
  start(upstream: string): Promise<{ addr: string; host: string; pid: number | null; stop(): Promise<void> } | string>;
}

/** TEN_RULES: nine rules for callers the driver is not, then one that admits it. */
export const TEN_RULES: AuthorizationRule[] = [
  ...Array.from({ length: 9 }, (_, i): AuthorizationRule => ({ from: [{ service: `caller-${i}`, namespace: 'default' }], to: [{ methods: ['GET', 'POST'], paths: [`/v${i}/*`] }], when: null })),
  { from: null, to: [{ methods: ['GET'], paths: ['/api/*'] }], when: null },
];

function inboundBundle(withPolicies: boolean): Bundle {
  const self = service('bench', { endpoints: ['127.0.0.1:1'] });
  if (withPolicies) {
    self.authorization = { deny: [], allow: [{ policy: 'default/bench-readers', rules: TEN_RULES }] };
    self.rateLimits = [{ policy: 'default/bench-limit', key: 'clientAddress', requests: 1_000_000_000, perMs: 1000, burst: 1_000_000_000 }];
  }
  return bundle(spec([self]));
}

/** policyScenarios: `weft-inbound` (no policy) and `weft-inbound+policies`. */
export function policyScenarios(t: BenchTools): PolicyScenario[] {
  const inbound = (name: string, withPolicies: boolean): PolicyScenario => ({
    name,
    start: async (upstream) => {
      const file = path.join(t.tempDir('weft-bench-policy-'), 'bundle.json');
      t.writeBundle(file, inboundBundle(withPolicies));
      const port = await t.freePort();
      const c = await t.startChild(
        [t.weft, 'proxy', '--insecure', '--service', 'bench', '--bundle', file, '--outbound', 'off', '--inbound', `127.0.0.1:${port}`, '--app', `http://${upstream}`, '--admin', 'off'],
        '"msg":"listening"',
      );
      return { addr: `127.0.0.1:${port}`, host: 'up', pid: c.pid ?? null, stop: () => t.stopChild(c) };
    },
  });
  return [inbound('weft-inbound', false), inbound('weft-inbound+policies', true)];
}
