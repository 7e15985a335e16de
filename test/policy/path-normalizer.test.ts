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

describe('normalizePath options (MeshConfig spec.proxy.pathNormalization, issue 13 item 7)', () => {
  const opts = (o: Partial<{ escapedSlashes: 'Reject' | 'KeepUnchanged' | 'UnescapeAndForward'; mergeSlashes: boolean; stripPathParameters: boolean }>) => ({ escapedSlashes: 'Reject' as const, mergeSlashes: true, stripPathParameters: false, ...o });
  const ok = (target: string, o: ReturnType<typeof opts>): string => {
    const r = normalizePath(target, o);
    assert.ok(r.ok, `${target} rejected: ${r.ok ? '' : r.reason}`);
    // Idempotent under the same options.
    const again = normalizePath(r.path, o);
    assert.ok(again.ok && again.path === r.path, `${r.path} is not stable`);
    return r.path;
  };

  it('a dot segment with ;parameters is refused by default (Tomcat would climb: /data/..;/secret is /secret)', () => {
    assert.equal(rejected('/data/..;/secret'), 'dot-segment-parameter');
    assert.equal(rejected('/data/.;x=1/../secret'), 'dot-segment-parameter');
    assert.equal(rejected('/data/..%3B/secret'), 'dot-segment-parameter');
    assert.equal(norm('/data/item;jsessionid=1'), '/data/item;jsessionid=1', 'parameters on a name are kept');
  });

  it('stripPathParameters: parameters go, then dot segments resolve: /data/..;/secret is /secret', () => {
    const o = opts({ stripPathParameters: true });
    assert.equal(ok('/data/..;/secret', o), '/secret');
    assert.equal(ok('/a;x=1/b;y', o), '/a/b');
  });

  it('escapedSlashes: Reject refuses, KeepUnchanged keeps them encoded (never a separator), UnescapeAndForward decodes then resolves', () => {
    assert.equal(rejected('/api/vhosts/%2F'), 'encoded-separator');
    assert.equal(ok('/api/vhosts/%2f/queue', opts({ escapedSlashes: 'KeepUnchanged' })), '/api/vhosts/%2F/queue');
    assert.equal(ok('/a/..%2Fb', opts({ escapedSlashes: 'KeepUnchanged' })), '/a/..%2Fb', '..%2F is a name, not a climb');
    assert.equal(ok('/data%2F..%2Fsecret', opts({ escapedSlashes: 'UnescapeAndForward' })), '/secret');
    assert.equal(ok('/a%5Cb\\c', opts({ escapedSlashes: 'UnescapeAndForward' })), '/a/b/c');
  });

  it('mergeSlashes: false keeps // as sent; dot segments still resolve', () => {
    const o = opts({ mergeSlashes: false });
    assert.equal(ok('//a//b/', o), '//a//b/');
    assert.equal(ok('/a//../b', o), '/a/b');
  });
});
