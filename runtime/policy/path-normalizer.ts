import type { PathNormalization } from '../../schemas/bundle.js';
import { DEFAULT_PROXY_SETTINGS } from '../../schemas/proxy-settings.js';

/**
 * NormalizeResult is a request target after normalisation. `path` is what authorization and rate
 * limits match and what gets forwarded; `query` is kept byte for byte, with its `?` ('' if none).
 */
export type NormalizeResult =
  | { ok: true; path: string; query: string; changed: boolean }
  | { ok: false; reason: PathRejection; detail: string };

/**
 * PathRejection names why a target was refused (answered 400, never forwarded):
 * - `not-origin-form`: does not start with `/`;
 * - `bad-percent-encoding`: `%` not followed by two hex digits;
 * - `encoded-separator`: `%2F` or `%5C`, or a raw `\`, under `escapedSlashes: Reject` (the
 *   default): backends disagree on whether these split segments, so a path rule could be evaded;
 * - `dot-segment-parameter`: a `.` or `..` segment carrying `;parameters` (`/data/..;/secret`)
 *   while `stripPathParameters` is off: Tomcat and Spring strip the parameter and climb, most
 *   other servers do not, so no single reading is safe to authorise;
 * - `encoded-control`: a percent-encoded control character (`%00`..`%1F`, `%7F`);
 * - `fragment`: a raw `#`, which no client sends and some servers cut the path at.
 */
export type PathRejection = 'not-origin-form' | 'bad-percent-encoding' | 'encoded-separator' | 'encoded-control' | 'fragment' | 'dot-segment-parameter';

/** PathOptions are MeshConfig spec.proxy.pathNormalization (docs/traffic-policies.md has the trade-offs). */
export type PathOptions = Readonly<PathNormalization>;

const HEX = '0123456789ABCDEF';

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

function isUnreserved(b: number): boolean {
  return (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39) || b === 0x2d || b === 0x2e || b === 0x5f || b === 0x7e;
}

/**
 * normalizePath makes one canonical path out of a request target (origin-form, `/path?query`):
 *  1. percent-encoded unreserved characters (RFC 3986 §2.3: letters, digits, `-._~`) are decoded
 *     and other encodings upper-cased (§6.2.2), so `/%61dmin` is `/admin`; `%2F` / `%5C` (and a
 *     raw `\`) follow `escapedSlashes`: refused, kept encoded (`%2F`, never a separator), or
 *     decoded to `/`;
 *  2. with `stripPathParameters`, `;parameters` are cut from every segment (`/a;x=1/b` is `/a/b`);
 *     without, a dot segment with parameters is refused;
 *  3. with `mergeSlashes`, runs of `/` are merged, so `//admin` is `/admin`;
 *  4. `.` and `..` segments are removed (§5.2.4; `..` never climbs above the root), so
 *     `/admin/../admin` is `/admin` and `/a/./b` is `/a/b`. A trailing `/` is kept.
 * The query is not touched. Targets a backend might read differently are refused (see
 * PathRejection). Pure and total: returns data, never throws. Idempotent: normalising a
 * normalised path changes nothing.
 */
export function normalizePath(target: string, opts: PathOptions = DEFAULT_PROXY_SETTINGS.pathNormalization): NormalizeResult {
  if (target.length === 0 || target.charCodeAt(0) !== 0x2f) return { ok: false, reason: 'not-origin-form', detail: 'request target must start with /' };
  const q = target.indexOf('?');
  const raw = q < 0 ? target : target.slice(0, q);
  const query = q < 0 ? '' : target.slice(q);
  let decoded = raw;
  const slashes = opts.escapedSlashes;
  if (raw.includes('%') || raw.includes('\\') || raw.includes('#')) {
    let out = '';
    for (let i = 0; i < raw.length; i++) {
      const c = raw.charCodeAt(i);
      if (c === 0x5c) {
        if (slashes === 'Reject') return { ok: false, reason: 'encoded-separator', detail: 'backslash in path' };
        out += slashes === 'KeepUnchanged' ? '%5C' : '/';
        continue;
      }
      if (c === 0x23) return { ok: false, reason: 'fragment', detail: '# in request target' };
      if (c !== 0x25) {
        out += raw[i];
        continue;
      }
      const hi = hexValue(raw.charCodeAt(i + 1));
      const lo = hexValue(raw.charCodeAt(i + 2));
      if (hi < 0 || lo < 0) return { ok: false, reason: 'bad-percent-encoding', detail: `invalid percent-encoding at offset ${i}` };
      const b = hi * 16 + lo;
      if (b === 0x2f || b === 0x5c) {
        if (slashes === 'Reject') return { ok: false, reason: 'encoded-separator', detail: `encoded ${b === 0x2f ? 'slash' : 'backslash'} in path` };
        out += slashes === 'KeepUnchanged' ? `%${HEX[hi]}${HEX[lo]}` : '/';
        i += 2;
        continue;
      }
      if (b < 0x20 || b === 0x7f) return { ok: false, reason: 'encoded-control', detail: `encoded control character at offset ${i}` };
      out += isUnreserved(b) ? String.fromCharCode(b) : `%${HEX[hi]}${HEX[lo]}`;
      i += 2;
    }
    decoded = out;
  }
  if (decoded.includes(';') || decoded.includes('%3B')) {
    const r = pathParameters(decoded, opts.stripPathParameters);
    if (r === null) return { ok: false, reason: 'dot-segment-parameter', detail: 'a . or .. segment carries ;parameters (give stripPathParameters: true to strip them)' };
    decoded = r;
  }
  const path = needsSegmentWork(decoded) ? resolveSegments(decoded, opts.mergeSlashes) : decoded;
  return { ok: true, path, query, changed: path !== raw };
}

/**
 * pathParameters strips `;parameters` from every segment, or (keeping them) returns null when a
 * dot segment carries one: `..;x` is `..` to Tomcat and Spring but a name to most servers. An
 * encoded `;` (`%3B`) counts too, as some servers decode before they split.
 */
function pathParameters(p: string, strip: boolean): string | null {
  const segments = p.split('/');
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i]!;
    const cut = s.search(/;|%3B/);
    if (cut < 0) continue;
    const name = s.slice(0, cut);
    if (strip) segments[i] = name;
    else if (name === '.' || name === '..') return null;
  }
  return segments.join('/');
}

/** needsSegmentWork is the fast path: most paths have no `//`, `/./` or `/../` to resolve. */
function needsSegmentWork(p: string): boolean {
  return p.includes('//') || p.includes('/.');
}

function resolveSegments(p: string, mergeSlashes: boolean): string {
  const segments = p.split('/');
  const out: string[] = [];
  let trailingSlash = false;
  // segments[0] is '' (the path starts with '/').
  for (let i = 1; i < segments.length; i++) {
    const s = segments[i] ?? '';
    const last = i === segments.length - 1;
    if (s === '' && !mergeSlashes && !last) {
      out.push(s); // an empty segment kept: `//` stays as sent
      trailingSlash = false;
    } else if (s === '' || s === '.') {
      trailingSlash = last;
    } else if (s === '..') {
      out.pop();
      trailingSlash = last;
    } else {
      out.push(s);
      trailingSlash = false;
    }
  }
  if (out.length === 0) return '/';
  return `/${out.join('/')}${trailingSlash ? '/' : ''}`;
}
