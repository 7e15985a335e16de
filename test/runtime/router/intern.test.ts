/**
 * The router's interned spec (runtime/router/intern.ts, buildRouter's `adopt`, what the proxy
 * uses): the same answers, decision for decision, as a router built on the spec as given; a spec
 * that is JSON-equal to the input, frozen, with equal parts shared; and, without `adopt`, the
 * caller's spec left untouched.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BundleSpec } from '../../../schemas/bundle.js';
import { buildRouter, explainRoute, route } from '../../../runtime/router/index.js';
import { Interner } from '../../../runtime/router/intern.js';
import { req, service, spec } from '../../helpers/bundle-builder.js';
import { CASES, SPEC } from './cases.js';

/** A fresh parse of `s`, as the proxy has it. */
const parsed = (s: BundleSpec): BundleSpec => JSON.parse(JSON.stringify(s)) as BundleSpec;

/** What a decision says, without object identity: kind, rule, match, table, Service. */
function answer(d: ReturnType<typeof route>): unknown {
  return d.kind === 'routed'
    ? [d.kind, d.rule, d.match?.index ?? null, d.match?.source ?? null, d.tableKind, d.service.entry.id, d.port]
    : [d.kind, d.reason, d.message, d.outOfScope ?? null];
}

describe('interned router spec', () => {
  it('answers every router conformance case as the router on the spec as given, and explain agrees', () => {
    const plain = buildRouter(SPEC);
    const adopted = buildRouter(parsed(SPEC), { adopt: true });
    for (const c of CASES) {
      const r = req(c.method ?? 'GET', c.target, c.headers);
      for (const caller of [c.caller ?? null, null, 'other']) {
        assert.deepEqual(answer(route(adopted, c.host, caller, r)), answer(route(plain, c.host, caller, r)), `${c.name} (caller namespace ${caller})`);
        assert.deepEqual(explainRoute(adopted, c.host, caller, r), explainRoute(plain, c.host, caller, r), `${c.name}: explain`);
      }
    }
  });

  it('keeps a spec JSON-equal to the input, deeply frozen, sharing equal parts', () => {
    const svc = (name: string): ReturnType<typeof service> =>
      service(name, { endpoints: ['127.0.0.1:9'], producer: [{ route: 'a', matches: [{ path: { type: 'PathPrefix', value: '/x' } }], backends: [{ service: 'shared' }] }, { route: 'b', backends: [{ service: 'shared' }] }] });
    const input = spec([svc('one'), svc('two'), service('shared', { endpoints: ['127.0.0.1:9'] })]);
    const text = JSON.stringify(input);
    const router = buildRouter(JSON.parse(text) as BundleSpec, { adopt: true });
    assert.equal(JSON.stringify(router.spec), text);
    const frozen = (v: unknown): boolean => v === null || typeof v !== 'object' || (Object.isFrozen(v) && Object.values(v).every(frozen));
    assert.ok(frozen(router.spec));
    const one = router.spec.services.find((s) => s.name === 'one');
    const two = router.spec.services.find((s) => s.name === 'two');
    const r1 = one!.routing.producer!.rules;
    const r2 = two!.routing.producer!.rules;
    assert.equal(r1[0]!.backends, r2[0]!.backends, 'equal backend lists are one value');
    assert.equal(r1[0]!.timeouts, r1[1]!.timeouts, 'equal timeouts are one value');
    assert.equal(r1[0]!.filters, r2[1]!.filters, 'equal (empty) filter lists are one value');
    assert.notEqual(r1[0], r2[0], 'rules (ids) stay distinct');
    assert.equal(one!.endpoints[0], two!.endpoints[0], 'equal endpoints are one value');
    assert.equal(router.services.get(one!.id)!.entry, one, 'the compiled Service refers to the kept spec');
  });

  it('without adopt, leaves the given spec as it was: not frozen, not shared', () => {
    const input = parsed(SPEC);
    const text = JSON.stringify(input);
    const router = buildRouter(input);
    assert.equal(router.spec, input);
    assert.equal(JSON.stringify(input), text);
    assert.ok(!Object.isFrozen(input.services[0]) && !Object.isFrozen(input.mesh.defaults.timeouts));
  });

  it('Interner: equal values are one, keys cannot collide across types or string boundaries', () => {
    const i = new Interner();
    const a = i.value({ x: [1, 'a', null, true], y: { z: '' } });
    const b = i.value({ x: [1, 'a', null, true], y: { z: '' } });
    assert.equal(a, b);
    const distinct = [['1'], [1], ['a,b'], ['a', 'b'], [true], ['t'], [null], ['z'], [[]], [{}], [{ a: 'b' }], [{ ab: '' }], ['s1:a'], []];
    const interned = distinct.map((v) => i.value(v));
    assert.equal(new Set(interned).size, distinct.length);
    interned.forEach((v, k) => assert.deepEqual(v, distinct[k]));
    const given = { keep: ['me'] };
    i.value(given);
    assert.ok(!Object.isFrozen(given), 'without adopt the input is not touched');
  });
});
