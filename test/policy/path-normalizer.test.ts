import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { normalizePath } from '../../runtime/policy/path-normalizer.js';

function norm(target: string): string {
  const r = normalizePath(target);
  assert.ok(r.ok, `${target} rejected: ${r.ok ? '' : r.reason}`);
  return r.path + r.query;
}

function rejected(target: string): string {
  const r = normalizePath(target);
  assert.ok(!r.ok, `${target} accepted as ${r.ok ? r.path : ''}`);
  return r.reason;
}

describe('normalizePath', () => {
  it('resolves the classic bypass attempts to the path they really name', () => {
    assert.equal(norm('/admin/../admin'), '/admin');
    assert.equal(norm('/%61dmin'), '/admin');
    assert.equal(norm('//admin'), '/admin');
    assert.equal(norm('/a/./b'), '/a/b');
    assert.equal(norm('/public/../admin/x'), '/admin/x');
    assert.equal(norm('/public/%2e%2e/admin'), '/admin');
    assert.equal(norm('/public/%2E./admin'), '/admin');
    assert.equal(norm('/./admin'), '/admin');
    assert.equal(norm('/../../admin'), '/admin');
    assert.equal(norm('///admin///x'), '/admin/x');
  });

  it('keeps trailing slashes, the root, and the query untouched', () => {
    assert.equal(norm('/'), '/');
    assert.equal(norm('/a/b/'), '/a/b/');
    assert.equal(norm('/a/.'), '/a/');
    assert.equal(norm('/a/..'), '/');
    assert.equal(norm('/a?x=/../y&z=%61'), '/a?x=/../y&z=%61');
    assert.equal(norm('/a//b?'), '/a/b?');
  });

  it('decodes only unreserved characters and upper-cases other escapes', () => {
    assert.equal(norm('/%7euser/%41-%5f'), '/~user/A-_');
    assert.equal(norm('/a%20b/%e2%82%ac'), '/a%20b/%E2%82%AC');
    assert.equal(norm('/a%3fb'), '/a%3Fb');
  });

  it('reports whether the path changed', () => {
    const same = normalizePath('/a/b?q');
    assert.ok(same.ok && !same.changed);
    const changed = normalizePath('/a//b?q');
    assert.ok(changed.ok && changed.changed);
  });

  it('refuses targets backends could read differently', () => {
    assert.equal(rejected('/admin%2fx'), 'encoded-separator');
    assert.equal(rejected('/admin%5Cx'), 'encoded-separator');
    assert.equal(rejected('/admin\\x'), 'encoded-separator');
    assert.equal(rejected('/a%00'), 'encoded-control');
    assert.equal(rejected('/a%'), 'bad-percent-encoding');
    assert.equal(rejected('/a%4'), 'bad-percent-encoding');
    assert.equal(rejected('/a%zz'), 'bad-percent-encoding');
    assert.equal(rejected('/a#frag'), 'fragment');
    assert.equal(rejected('admin'), 'not-origin-form');
    assert.equal(rejected(''), 'not-origin-form');
    assert.equal(rejected('*'), 'not-origin-form');
  });

  it('is idempotent and leaves no dot segments or empty segments (property)', () => {
    const seg = fc.constantFrom('a', 'admin', '.', '..', '', '%2e', '%2E%2e', '%61', 'x%20y', '~');
    fc.assert(
      fc.property(fc.array(seg, { maxLength: 12 }), fc.boolean(), (segs, q) => {
        const target = `/${segs.join('/')}${q ? '?a=../b' : ''}`;
        const r = normalizePath(target);
        if (!r.ok) return false;
        const again = normalizePath(r.path + r.query);
        if (!again.ok || again.path !== r.path || again.changed) return false;
        const parts = r.path.split('/').slice(1, r.path.endsWith('/') ? -1 : undefined);
        return parts.every((p) => p !== '.' && p !== '..' && p !== '') && r.query === (q ? '?a=../b' : '');
      }),
    );
  });
});
