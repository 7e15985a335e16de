/**
 * FILTERS (runtime/policy/request-filters.ts): the one table of HTTPRoute filter meanings that
 * the proxy's filters step and `weft test` both run. Gateway API semantics on a plain request
 * line; the proxy only carries the returned effects out.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Filter } from '../../schemas/bundle.js';
import { decideFilter, FILTERS } from '../../runtime/policy/request-filters.js';
import type { RequestLine } from '../../runtime/policy/request-line.js';

const line = (): RequestLine => ({ authority: 'shop.default:8080', path: '/api/v1/items', query: 'q=1', headers: { 'x-a': 'one', 'x-drop': 'yes' } });
const never = (): number => 0.999999999;
const always = (): number => 0;

describe('FILTERS', () => {
  it('has an entry for every filter type of the bundle schema', () => {
    const types: Filter['type'][] = ['RequestHeaderModifier', 'ResponseHeaderModifier', 'RequestRedirect', 'URLRewrite', 'RequestMirror', 'Fault'];
    assert.deepEqual(Object.keys(FILTERS).sort(), [...types].sort());
  });

  it('RequestHeaderModifier edits the request in place: set, add (comma-joined), remove; names case-insensitive', () => {
    const req = line();
    const e = decideFilter(req, { type: 'RequestHeaderModifier', modifier: { set: [{ name: 'X-Set', value: 's' }], add: [{ name: 'X-A', value: 'two' }], remove: ['X-Drop'] } }, never);
    assert.deepEqual(e, { kind: 'continue' });
    assert.deepEqual(req.headers, { 'x-a': 'one,two', 'x-set': 's' });
  });

  it('URLRewrite replaces the prefix element-wise and the Host; the query stays', () => {
    const req = line();
    decideFilter(req, { type: 'URLRewrite', rewrite: { hostname: 'backend', path: { type: 'ReplacePrefixMatch', prefix: '/api', value: '/' } } }, never);
    assert.deepEqual([req.authority, req.path, req.query], ['backend', '/v1/items', 'q=1']);
  });

  it('RequestRedirect answers with a Location built from the request; the request is not changed', () => {
    const req = line();
    const e = decideFilter(req, { type: 'RequestRedirect', redirect: { scheme: 'https', hostname: null, port: null, path: { type: 'ReplaceFullPath', value: '/moved' }, statusCode: 301 } }, never);
    assert.deepEqual(e, { kind: 'redirect', status: 301, location: 'https://shop.default/moved?q=1' });
    assert.deepEqual(req, line());
  });

  it('ResponseHeaderModifier and RequestMirror leave the request alone and name their effect', () => {
    const modifier = { set: [], add: [], remove: ['server'] };
    assert.deepEqual(decideFilter(line(), { type: 'ResponseHeaderModifier', modifier }, never), { kind: 'response-headers', modifier });
    const mirror = { service: 'default/shadow', port: 80, percent: 100 };
    assert.deepEqual(decideFilter(line(), { type: 'RequestMirror', mirror }, never), { kind: 'mirror', mirror });
  });

  it('Fault draws with the given source: a partial fault fires on a low draw only; 100% always', () => {
    const f: Filter = { type: 'Fault', name: 'flaky', fault: { delay: { ms: 50, percent: 30 }, abort: { status: 503, percent: 100 } } };
    assert.deepEqual(decideFilter(line(), f, never), { kind: 'fault', name: 'flaky', delayMs: 0, abortStatus: 503 });
    assert.deepEqual(decideFilter(line(), f, always), { kind: 'fault', name: 'flaky', delayMs: 50, abortStatus: 503 });
    const partial: Filter = { type: 'Fault', name: 'rare', fault: { delay: null, abort: { status: 500, percent: 10 } } };
    assert.deepEqual(decideFilter(line(), partial, never), { kind: 'continue' });
  });

  it('a type this build does not know gives null (the proxy answers 500, weft test reports it)', () => {
    assert.equal(decideFilter(line(), { type: 'Future' } as unknown as Filter, never), null);
  });
});
