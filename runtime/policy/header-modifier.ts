import type { HeaderModifier } from '../../schemas/bundle.js';
import type { Headers } from './headers.js';

/**
 * applyHeaderModifier edits headers in place, Gateway API semantics: `set` overwrites, `add`
 * appends to an existing value comma-joined (`foo` + `bar` → `foo,bar`), `remove` deletes. Names
 * are case-insensitive. Used for both RequestHeaderModifier and ResponseHeaderModifier.
 */
export function applyHeaderModifier(headers: Headers, m: HeaderModifier): void {
  for (const { name, value } of m.set) headers[name.toLowerCase()] = value;
  for (const { name, value } of m.add) {
    const key = name.toLowerCase();
    const prior = headers[key];
    headers[key] = prior === undefined ? value : `${typeof prior === 'string' ? prior : prior.join(',')},${value}`;
  }
  for (const name of m.remove) delete headers[name.toLowerCase()];
}
