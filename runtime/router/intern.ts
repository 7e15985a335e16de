/**
 * Interner makes deep, frozen, shared copies of JSON values: equal strings become one string, and
 * equal arrays and objects (same keys in the same order, equal values) one frozen object. The
 * router copies a bundle's spec through one Interner, so the parse result can be dropped and the
 * copy costs what its distinct values cost: a 10,000-route bundle repeats the same empty filter
 * lists, timeouts, retry policies, backend references and Service ids on every rule (measured:
 * about half of the parsed spec's heap). One Interner serves one build; it is dropped with it.
 *
 * Copies are JSON-equal to the input (same keys, order and values), and frozen: nothing may
 * change a value another rule may share. Values are JSON: strings, finite numbers, booleans,
 * null, arrays and plain objects (a bundle is parsed JSON). Keys are unambiguous: strings are
 * written with their length, arrays and objects by the number of their shared copy. An object
 * with a string `id` is taken to be unique (its parts are still shared).
 */
export class Interner {
  private readonly strings = new Map<string, string>();
  /** Interned arrays and objects by a key built from their members' keys. */
  private readonly values = new Map<string, object>();
  /** The number of each shared array or object (members are keyed by identity once interned). */
  private readonly ids = new Map<object, number>();
  /** Arrays and objects taken to be unique (never looked up; see below). */
  private readonly unique = new Set<object>();
  private next = 0;

  /**
   * With `adopt`, the values given are the interner's to keep: the first of each set of equal
   * arrays or objects becomes the shared one, its members replaced by their shared copies and
   * the object frozen in place, and no copy is made (the proxy's freshly parsed bundle: a third
   * of the time of copying it). Without, the values given are left untouched.
   */
  constructor(private readonly opts: { readonly adopt?: boolean } = {}) {}

  /** value returns the shared copy of `v` (itself for numbers, booleans and null). */
  value<T>(v: T): T {
    return this.intern(v) as T;
  }

  /** string returns the shared instance of `s`. */
  string(s: string): string {
    const hit = this.strings.get(s);
    if (hit !== undefined) return hit;
    this.strings.set(s, s);
    return s;
  }

  private intern(v: unknown): unknown {
    if (typeof v === 'string') return this.string(v);
    if (v === null || typeof v !== 'object') return v;
    if (this.ids.has(v) || this.unique.has(v)) return v;
    // The key is built from the members' keys before anything is copied: a value seen before
    // costs its members' lookups and no new object.
    const adopt = this.opts.adopt === true;
    let key = '';
    // Unique: an object with a string `id` (rules, matches, Services) or anything holding one can
    // equal no other value, so it is not looked up (half of the time of a 10,000-route bundle).
    let unique = false;
    let copy: object;
    if (Array.isArray(v)) {
      const items: unknown[] = new Array(v.length);
      for (let i = 0; i < v.length; i++) {
        const c = this.intern(v[i]);
        items[i] = c;
        const k = this.keyOf(c);
        if (k.charCodeAt(0) === 33 /* ! */) unique = true;
        else if (!unique) key += `${k},`;
      }
      key = `[${key}`;
      const hit = unique ? undefined : this.values.get(key);
      if (hit !== undefined) return hit;
      if (adopt) {
        for (let i = 0; i < v.length; i++) if (v[i] !== items[i]) v[i] = items[i];
        copy = v;
      } else {
        copy = items;
      }
    } else {
      const o = v as Record<string, unknown>;
      const names = Object.keys(o);
      const members: unknown[] = new Array(names.length);
      for (let i = 0; i < names.length; i++) {
        const name = names[i]!;
        const c = this.intern(o[name]);
        members[i] = c;
        const k = this.keyOf(c);
        if (k.charCodeAt(0) === 33 /* ! */ || (name === 'id' && typeof c === 'string')) unique = true;
        else if (!unique) key += `${name.length}:${name}${k},`;
      }
      key = `{${key}`;
      const hit = unique ? undefined : this.values.get(key);
      if (hit !== undefined) return hit;
      if (adopt) {
        for (let i = 0; i < names.length; i++) if (o[names[i]!] !== members[i]) o[names[i]!] = members[i];
        copy = o;
      } else {
        const out: Record<string, unknown> = {};
        for (let i = 0; i < names.length; i++) out[this.string(names[i]!)] = members[i];
        copy = out;
      }
    }
    Object.freeze(copy);
    if (unique) {
      this.unique.add(copy);
    } else {
      this.values.set(key, copy);
      this.ids.set(copy, this.next++);
    }
    return copy;
  }

  /** keyOf is a member's key: interned objects by identity, strings by length and text. */
  private keyOf(x: unknown): string {
    switch (typeof x) {
      case 'string':
        return `s${x.length}:${x}`;
      case 'object':
        return x === null ? 'z' : this.unique.has(x) ? '!' : `#${this.ids.get(x)!}`;
      case 'number':
        return `n${x}`;
      case 'boolean':
        return x ? 't' : 'f';
      default:
        return 'u';
    }
  }
}

/** EMPTY is the one frozen empty list compiled structures share. */
export const EMPTY: readonly never[] = Object.freeze([]);
