import type { HeaderModifier } from '../../schemas/bundle.js';
import type { Headers } from './headers.js';

/**
 * applyHeaderModifier edits headers in place, Gateway API semantics: `set` overwrites, `add`
 * appends to an existing value comma-joined (`foo` + `bar` → `foo,bar`), `remove` deletes. Names
 * are case-insensitive. Used for both RequestHeaderModifier and ResponseHeaderModifier.
 *
 * Two headers are never comma-joined: Set-Cookie is never combined at all (RFC 9110 §5.3, RFC
 * 6265 §3: a cookie's attributes contain commas, so a folded line is read as one cookie); an
 * added Set-Cookie is one more line. Cookie joins with `; ` (RFC 6265 §5.4).
 */
export function applyHeaderModifier(headers: Headers, m: HeaderModifier): void {
  for (const { name, value } of m.set) headers[name.toLowerCase()] = value;
  for (const { name, value } of m.add) {
    const key = name.toLowerCase();
    const prior = headers[key];
    if (prior === undefined) headers[key] = value;
    else if (key === 'set-cookie') headers[key] = typeof prior === 'string' ? [prior, value] : [...prior, value];
    else {
      const sep = key === 'cookie' ? '; ' : ',';
      headers[key] = `${typeof prior === 'string' ? prior : prior.join(sep)}${sep}${value}`;
    }
  }
  for (const name of m.remove) delete headers[name.toLowerCase()];
}
