/**
 * The request pipelines as composed at start-up: both orders pinned, and compose() refusing any
 * list in which a step comes before a fact it needs (the check that makes a moved line in
 * runtime/proxy/steps/index.ts fail loudly instead of silently switching a policy off).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { identityOf } from '../../runtime/identity.js';
import { PolicyRuntime } from '../../runtime/policy/policy-runtime.js';
import { EndpointTable } from '../../runtime/discovery/endpoint-table.js';
import { DEFAULT_TRUSTED_PEERS, HeaderIdentityProvider } from '../../runtime/proxy/caller-identity.js';
import type { ProxyContext } from '../../runtime/proxy/context.js';
import { ProxyMetrics } from '../../runtime/proxy/metrics.js';
import { checkSteps, compose, PipelineError, planSteps, type Step } from '../../runtime/proxy/pipeline.js';
import { buildRouter } from '../../runtime/router/index.js';
import { service, spec } from '../helpers/bundle-builder.js';
import { PoolSet } from '../../runtime/proxy/pools.js';
import { inboundSteps, outboundSteps, terminal } from '../../runtime/proxy/steps/index.js';

function context(): ProxyContext {
  const metrics = new ProxyMetrics();
  return {
    settings: { service: 'me', namespace: 'default', app: { address: '127.0.0.1', port: 9, labels: {} }, accessLog: false, bodyBufferLimit: 65536, mirrorConcurrency: 8 },
    metrics,
    pools: new PoolSet(),
    identity: new HeaderIdentityProvider(DEFAULT_TRUSTED_PEERS),
    mtls: null,
    selfIdentity: identityOf('me', 'default', 'header'),
    random: Math.random,
    active: () => null,
    writeLog: () => {},
    self: { service: 'me', namespace: 'default' },
    policies: new PolicyRuntime({ registry: metrics.registry, random: Math.random, activeRouter: () => null }),
    endpoints: new EndpointTable(false),
    mirrorsInFlight: 0,
  };
}

const ctx = context();
after(() => ctx.pools.close());

/** moved returns `steps` with the step named `name` moved to index `to` (of the list without it). */
function moved(steps: readonly Step[], name: string, to: number): Step[] {
  const s = steps.find((x) => x.name === name);
  assert.ok(s, `step ${name} exists`);
  const rest = steps.filter((x) => x !== s);
  rest.splice(to, 0, s);
  return rest;
}

function indexOf(steps: readonly Step[], name: string): number {
  return steps.findIndex((s) => s.name === name);
}

describe('step plans (issue 16)', () => {
  const router = buildRouter(
    spec([
      service('me', { endpoints: ['127.0.0.1:9'] }),
      service('up', {
        endpoints: ['127.0.0.1:1'],
        producer: [
          { route: 'plain', backends: [{ service: 'up' }] },
          { route: 'busy', filters: [{ type: 'RequestHeaderModifier', modifier: { set: [{ name: 'x', value: 'y' }], add: [], remove: [] } }], timeouts: { requestMs: 1000, backendRequestMs: 500 }, retry: { attempts: 1, codes: [503], backoffMs: 1 }, backends: [{ service: 'up' }] },
        ],
      }),
    ]),
  );
  const rules = router.services.get('default/up')!.producer!.source.rules;
  const plain = rules.find((r) => r.id.includes('plain'))!;
  const busy = rules.find((r) => r.id.includes('busy'))!;
  it('a plain outbound rule runs no filters, timeouts, outlier detection or rate limit; access log off', () => {
    assert.deepEqual(planSteps(outboundSteps(ctx), { direction: 'outbound', router, rule: plain, grpc: false }), [
      'observe', 'hop-by-hop', 'forwarded-headers', 'tracing', 'source-stamp', 'path-normalization', 'route', 'backend', 'retry-budget', 'retry', 'endpoint', 'connection-pool',
    ]);
  });
  it('a rule with filters and timeouts runs them; a gRPC call keeps the request timeout (grpc-timeout)', () => {
    const names = planSteps(outboundSteps(ctx), { direction: 'outbound', router, rule: busy, grpc: false });
    for (const n of ['filters', 'request-timeout', 'backend-timeout']) assert.ok(names.includes(n), n);
    assert.ok(planSteps(outboundSteps(ctx), { direction: 'outbound', router, rule: plain, grpc: true }).includes('request-timeout'));
  });
  it('inbound without policies skips authorization and rate limit', () => {
    assert.deepEqual(planSteps(inboundSteps(ctx), { direction: 'inbound', router, rule: null, grpc: false }), ['observe', 'hop-by-hop', 'forwarded-headers', 'tracing', 'caller-identity', 'inbound-route', 'path-normalization', 'endpoint']);
  });
});

describe('pipelines', () => {
  it('outbound order is pinned', () => {
    assert.deepEqual(
      outboundSteps(ctx).map((s) => s.name),
      [
        'observe',
        'access-log',
        'hop-by-hop',
        'forwarded-headers',
        'tracing',
        'source-stamp',
        'path-normalization',
        'route',
        'rate-limit',
        'filters',
        'request-timeout',
        'backend',
        'retry-budget',
        'retry',
        'backend-timeout',
        'endpoint',
        'connection-pool',
        'outlier-detection',
      ],
    );
  });

  it('inbound order is pinned', () => {
    assert.deepEqual(
      inboundSteps(ctx).map((s) => s.name),
      ['observe', 'access-log', 'hop-by-hop', 'forwarded-headers', 'tracing', 'caller-identity', 'inbound-route', 'path-normalization', 'authorization', 'rate-limit', 'endpoint'],
    );
  });

  it('both pipelines compose and pass the order check', () => {
    assert.equal(typeof compose(outboundSteps(ctx), terminal(ctx), 'outbound'), 'function');
    assert.equal(typeof compose(inboundSteps(ctx), terminal(ctx), 'inbound'), 'function');
  });

  // The three steps that used to pass a request on when their prerequisite was missing.
  for (const [step, before, need] of [
    ['connection-pool', 'endpoint', 'endpoint'],
    ['outlier-detection', 'endpoint', 'endpoint'],
    ['retry-budget', 'backend', 'backend'],
  ] as const) {
    it(`${step} placed before ${before} is refused at compose time, naming what it needs`, () => {
      const steps = outboundSteps(ctx);
      const bad = moved(steps, step, indexOf(steps, before) - 1);
      assert.throws(() => compose(bad, terminal(ctx), 'outbound'), (e: unknown) => e instanceof PipelineError && e.message.includes(`"${step}" needs "${need}"`) && e.message.includes(`after "${before}"`));
    });
  }

  it('retry before retry-budget, endpoint before retry, route before path-normalization: all refused', () => {
    const steps = outboundSteps(ctx);
    assert.throws(() => checkSteps(moved(steps, 'retry-budget', indexOf(steps, 'retry')), terminal(ctx), 'outbound'), /"retry" needs "retry-budget"/);
    assert.throws(() => checkSteps(moved(steps, 'endpoint', indexOf(steps, 'retry')), terminal(ctx), 'outbound'), /"endpoint" needs "attempt"/);
    assert.throws(() => checkSteps(moved(steps, 'path-normalization', indexOf(steps, 'route')), terminal(ctx), 'outbound'), /"route" needs "normalized-path"/);
    const inbound = inboundSteps(ctx);
    assert.throws(() => checkSteps(moved(inbound, 'authorization', indexOf(inbound, 'path-normalization')), terminal(ctx), 'inbound'), /"authorization" needs "normalized-path"/);
    assert.throws(() => checkSteps(moved(inbound, 'caller-identity', 0), terminal(ctx), 'inbound'), /"caller-identity" needs "hop-by-hop-removed"/);
  });

  it('a step that belongs in one direction is refused in the other', () => {
    const outbound = outboundSteps(ctx);
    const inbound = inboundSteps(ctx);
    const authorization = inbound.find((s) => s.name === 'authorization')!;
    const withAuthz = [...outbound.slice(0, indexOf(outbound, 'rate-limit')), authorization, ...outbound.slice(indexOf(outbound, 'rate-limit'))];
    assert.throws(() => checkSteps(withAuthz, terminal(ctx), 'outbound'), /"authorization" belongs in the inbound pipeline/);
    assert.throws(() => checkSteps(outbound, terminal(ctx), 'inbound'), /belongs in the outbound pipeline/);
  });

  it('every step that needs something is refused when moved to the front; the terminal needs an endpoint', () => {
    for (const [direction, steps] of [['outbound', outboundSteps(ctx)], ['inbound', inboundSteps(ctx)]] as const) {
      for (const s of steps) {
        const front = moved(steps, s.name, 0);
        if (s.needs.length === 0) assert.doesNotThrow(() => checkSteps(front, terminal(ctx), direction), s.name);
        else assert.throws(() => checkSteps(front, terminal(ctx), direction), PipelineError, s.name);
      }
      assert.throws(() => checkSteps(steps.filter((s) => s.name !== 'endpoint' && !s.needs.includes('endpoint')), terminal(ctx), direction), /"forward" needs "endpoint"/);
    }
  });

  it('a name used twice or a malformed step is refused', () => {
    const steps = outboundSteps(ctx);
    assert.throws(() => checkSteps([...steps, steps[0]!], terminal(ctx), 'outbound'), /"observe" appears twice/);
    assert.throws(() => checkSteps([{ name: 'x', wrap: () => async () => Promise.reject(new Error()) } as unknown as Step], terminal(ctx), 'outbound'), PipelineError);
  });
});
