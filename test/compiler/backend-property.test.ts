/**
 * Property: random mutations of a valid tree never make resolve, analyze, lower or emit throw.
 *
 * The seed tree is the example mesh plus the back-end corpus. Each run mutates resource values
 * (strings, numbers, list elements, optional fields) and re-validates them with the real validate
 * pass, so what reaches resolve is a genuine ValidatedTree whose references, weights, durations,
 * regexes, names and timestamps are arbitrary. lower runs even when errors were found (compile()
 * would stop first), since lower must never throw either.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { parse } from '../../compiler/parse.js';
import { validate } from '../../compiler/validate.js';
import { resolve } from '../../compiler/resolve.js';
import { analyze } from '../../compiler/analyze.js';
import { lower } from '../../compiler/lower.js';
import { emit } from '../../compiler/emit.js';
import type { RawDocument } from '../../compiler/types.js';
import { newContext } from './backend-helpers.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

function yamlFiles(base: string): { path: string; size: number; text: string }[] {
  const out: { path: string; size: number; text: string }[] = [];
  const walk = (d: string): void => {
    for (const f of readdirSync(d).sort()) {
      const p = path.join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.ya?ml$/.test(f)) {
        const text = readFileSync(p, 'utf8');
        out.push({ path: path.relative(ROOT, p).split(path.sep).join('/'), size: text.length, text });
      }
    }
  };
  walk(base);
  return out;
}

const STRINGS = ['', '/', '/a', '/a/', 'api', 'web', 'reviews', 'reviews-v2', 'default', 'other', 'Service', 'HTTPRoute', 'Fault', 'weft.dev', 'core',
  '0s', '1ms', '15s', '99999h', '(a)\\1', '(?=x)', '[a-z]{1000}[a-z]{1000}', '.*', 'x-user', 'header:X-User', 'caller', 'ALLOW', 'DENY',
  'PathPrefix', 'Exact', 'RegularExpression', 'ReplacePrefixMatch', '2020-01-01T00:00:00Z', 'not-a-date'];
const NUMBERS = [-1, 0, 1, 2, 80, 302, 399, 404, 503, 600, 9080, 65535, 1_000_000];

type Mutation = { at: number; kind: number; pick: number };

/** mutate applies one change at the `at`-th node (pre-order) of `value`. */
function mutate(value: unknown, m: Mutation): unknown {
  let counter = 0;
  const visit = (v: unknown): unknown => {
    const here = counter++ === m.at;
    if (Array.isArray(v)) {
      if (here && v.length > 0) {
        const i = m.pick % v.length;
        if (m.kind % 3 === 0) return v.filter((_, j) => j !== i);
        if (m.kind % 3 === 1) return [...v, structuredClone(v[i])];
        return [];
      }
      return v.map(visit);
    }
    if (v !== null && typeof v === 'object') {
      const entries = Object.entries(v as Record<string, unknown>);
      if (here && entries.length > 0 && m.kind % 2 === 0) {
        const drop = entries[m.pick % entries.length]?.[0];
        return Object.fromEntries(entries.filter(([k]) => k !== drop).map(([k, x]) => [k, visit(x)]));
      }
      return Object.fromEntries(entries.map(([k, x]) => [k, visit(x)]));
    }
    if (!here) return v;
    if (typeof v === 'string') return STRINGS[m.pick % STRINGS.length];
    if (typeof v === 'number') return NUMBERS[m.pick % NUMBERS.length];
    if (typeof v === 'boolean') return !v;
    return v;
  };
  return visit(value);
}

/**
 * keepShape restores what parse guarantees of every document (validate's precondition): a mapping
 * with the original apiVersion and kind and a metadata mapping.
 */
function keepShape(original: unknown, mutated: unknown): unknown {
  const o = original as Record<string, unknown>;
  const m = mutated !== null && typeof mutated === 'object' && !Array.isArray(mutated) ? { ...(mutated as Record<string, unknown>) } : {};
  m.apiVersion = o.apiVersion;
  m.kind = o.kind;
  if (m.metadata === null || typeof m.metadata !== 'object' || Array.isArray(m.metadata)) m.metadata = structuredClone(o.metadata);
  return m;
}

test('random mutations of valid trees never make resolve/analyze/lower/emit throw', async () => {
  const files = [...yamlFiles(path.join(ROOT, 'policies')), ...yamlFiles(path.join(ROOT, 'test', 'compiler', 'cases'))];
  const parsed = await parse({ files }, newContext());
  const docs = parsed.documents;
  assert.ok(docs.length > 20);
  const mutation = fc.record({ doc: fc.nat(docs.length - 1), at: fc.nat(60), kind: fc.nat(5), pick: fc.nat(1000) });
  await fc.assert(
    fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 12 }), fc.boolean(), async (mutations, shuffle) => {
      const values = docs.map((d) => structuredClone(d.value));
      for (const m of mutations) values[m.doc] = keepShape(docs[m.doc]?.value, mutate(values[m.doc], m));
      let documents: RawDocument[] = docs.map((d, i) => ({ ...d, value: values[i] }));
      if (shuffle) documents = [...documents].reverse();
      const ctx = newContext();
      const tree = validate({ documents }, ctx);
      const resolved = analyze(resolve(tree, ctx), ctx);
      const lowered = lower(resolved, ctx);
      const { json } = emit(lowered, ctx);
      assert.equal(typeof json, 'string');
    }),
    { numRuns: Number(process.env.WEFT_PROPERTY_RUNS ?? 300), ...(process.env.WEFT_PROPERTY_RUNS ? {} : { seed: 20261125 }) },
  );
});
