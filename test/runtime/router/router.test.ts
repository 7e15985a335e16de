import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backendShares, buildRouter, chooseBackend, explainRoute, route, splitTarget } from '../../../runtime/router/index.js';
import { req, service, spec } from '../../helpers/bundle-builder.js';
import { CASES, SPEC } from './cases.js';

describe('router conformance cases', () => {
  const router = buildRouter(SPEC);
  for (const c of CASES) {
    it(c.name, () => {
      const r = req(c.method ?? 'GET', c.target, c.headers);
      const d = route(router, c.host, c.caller ?? null, r);
      if (typeof c.expect === 'string') {
        assert.equal(d.kind, 'routed', d.kind === 'not-found' ? d.message : '');
        if (d.kind === 'routed') assert.equal(d.rule.id, c.expect);
      } else {
        assert.equal(d.kind, 'not-found');
        if (d.kind === 'not-found') assert.equal(d.reason, c.expect.notFound);
      }
      // explain must agree with route, and end on the winner
      const e = explainRoute(router, c.host, c.caller ?? null, r);
      assert.deepEqual(e.decision.kind, d.kind);
      if (d.kind === 'routed' && d.match) {
        const last = e.considered.at(-1);
        assert.equal(last?.matched, true);
        assert.equal(last?.index, d.match.index);
        assert.ok(e.considered.slice(0, -1).every((m) => !m.matched && m.failed !== null));
      }
    });
  }
});

describe('router', () => {
  it('is frozen', () => {
    const router = buildRouter(SPEC);
    assert.ok(Object.isFrozen(router));
    const s = router.services.get('default/web');
    assert.ok(s && Object.isFrozen(s.producer) && Object.isFrozen(s.producer?.matches));
  });

  it('rejects an invalid regex at build time', () => {
    const bad = spec([service('x', { producer: [{ matches: [{ path: { type: 'RegularExpression', value: '/(a' } }], backends: [{ service: 'x' }] }] })]);
    assert.throws(() => buildRouter(bad), /invalid RE2/);
  });

  it('rejects backreferences (RE2 dialect)', () => {
    const bad = spec([service('x', { producer: [{ matches: [{ path: { type: 'RegularExpression', value: '/(a)\\1' } }], backends: [{ service: 'x' }] }] })]);
    assert.throws(() => buildRouter(bad), /invalid RE2/);
  });

  it('explains why matches failed', () => {
    const router = buildRouter(SPEC);
    const e = explainRoute(router, 'web.default', null, req('GET', '/api/x', { 'x-user': 'beta' }));
    const hdr = e.considered.find((m) => m.id.startsWith('default/hdr'));
    assert.equal(hdr?.failed?.on, 'header');
    assert.equal(e.decision.kind === 'routed' && e.decision.rule.id, 'default/api#0');
  });

  it('splits absolute-form targets', () => {
    assert.deepEqual(splitTarget('http://web.default:8080/a/b?x=1#f'), { path: '/a/b', query: 'x=1', authority: 'web.default:8080' });
    assert.deepEqual(splitTarget('http://web'), { path: '/', query: '', authority: 'web' });
    assert.deepEqual(splitTarget('/p?'), { path: '/p', query: '', authority: null });
  });
});

describe('weighted backends', () => {
  const s = spec([
    service('a', {
      producer: [
        { route: 'w', backends: [{ service: 'b1', weight: 3 }, { service: 'b2', weight: 1 }, { service: 'b0', weight: 0 }] },
      ],
    }),
  ]);
  const rule = s.services[0]!.routing.producer!.rules[0]!;

  it('follows weights with an injected random source', () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 1000; i++) {
      const c = chooseBackend(rule, () => i / 1000);
      assert.equal(c.kind, 'backend');
      if (c.kind === 'backend') counts.set(c.backend.service, (counts.get(c.backend.service) ?? 0) + 1);
    }
    assert.equal(counts.get('default/b1'), 750);
    assert.equal(counts.get('default/b2'), 250);
    assert.equal(counts.get('default/b0'), undefined);
    assert.deepEqual([...backendShares(rule)], [['default/b1', 75], ['default/b2', 25]]);
  });

  it('answers the direct response when every weight is zero', () => {
    const z = spec([service('a', { producer: [{ backends: [{ service: 'b', weight: 0 }] }] })]).services[0]!.routing.producer!.rules[0]!;
    assert.deepEqual(chooseBackend(z), { kind: 'direct', status: 500, reason: 'all backend weights are 0' });
  });

  it('gives the invalid share 500', () => {
    const inv = spec([service('a', { producer: [{ backends: [{ service: 'b', weight: 1 }], invalidWeight: 1 }] })]).services[0]!.routing.producer!.rules[0]!;
    assert.equal(chooseBackend(inv, () => 0.25).kind, 'backend');
    assert.equal(chooseBackend(inv, () => 0.75).kind, 'invalid');
  });
});
