/**
 * Property: no mutation of a valid policy file makes the front end (parse, validate) throw. Byte
 * flips, deleted and repeated lines, renamed keys, swapped value types, re-indentation: each
 * yields diagnostics (with a known code and a real position) or resources, never an exception.
 * Seeds are the example mesh (policies/) and the corpus (test/compiler/cases/).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { parse } from '../../compiler/parse.js';
import { validate } from '../../compiler/validate.js';
import { CODES } from '../../compiler/codes.js';
import type { PassContext } from '../../compiler/types.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

function yamlFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...yamlFiles(p));
    else if (/\.ya?ml$/.test(name)) out.push(readFileSync(p, 'utf8'));
  }
  return out;
}

const SEEDS = [...yamlFiles(path.join(ROOT, 'policies')), ...yamlFiles(path.join(ROOT, 'test', 'compiler', 'cases'))].filter((t) => t.length < 20_000);

const KEYS = ['apiVersion', 'kind', 'metadata', 'name', 'spec', 'rules', 'matches', 'path', 'value', 'type', 'backendRefs', 'weight', 'port', 'filters', '__proto__', 'constructor', 'x-y', '<<', '? a', '"q"', '1', ''];
const VALUES = ['[]', '{}', '0', '-1', '1e309', '1000001', 'true', 'null', '~', '""', "'x'", '*a', '&a x', '!tag x', '!!int x', '!!binary x', '"\\u0000"', '|\n  block', '[1, [2, [3]]]', '{ a: *a }', '/a//b', '1.5s', 'GET', 'Exact', '%', '@x', '`x'];

type Mutation = (text: string) => string;

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })).map(([at, byte]): Mutation => (t) => {
    const i = t.length === 0 ? 0 : at % t.length;
    return t.slice(0, i) + String.fromCharCode(byte) + t.slice(i + 1);
  }),
  fc.nat().map((at): Mutation => (t) => {
    const lines = t.split('\n');
    lines.splice(at % Math.max(1, lines.length), 1);
    return lines.join('\n');
  }),
  fc.nat().map((at): Mutation => (t) => {
    const lines = t.split('\n');
    const i = at % Math.max(1, lines.length);
    lines.splice(i, 0, lines[i] ?? '');
    return lines.join('\n');
  }),
  fc.tuple(fc.nat(), fc.constantFrom(...KEYS)).map(([at, key]): Mutation => (t) => {
    const keys = [...t.matchAll(/([A-Za-z_][\w-]*):/g)];
    const m = keys[at % Math.max(1, keys.length)];
    return m?.index === undefined ? t : t.slice(0, m.index) + key + t.slice(m.index + (m[1]?.length ?? 0));
  }),
  fc.tuple(fc.nat(), fc.constantFrom(...VALUES)).map(([at, value]): Mutation => (t) => {
    const vals = [...t.matchAll(/: ([^\s{}[\],#][^\n,}\]]*)/g)];
    const m = vals[at % Math.max(1, vals.length)];
    return m?.index === undefined ? t : t.slice(0, m.index + 2) + value + t.slice(m.index + 2 + (m[1]?.length ?? 0));
  }),
  fc.tuple(fc.nat(), fc.integer({ min: -4, max: 4 })).map(([at, shift]): Mutation => (t) => {
    const lines = t.split('\n');
    const i = at % Math.max(1, lines.length);
    const l = lines[i] ?? '';
    lines[i] = shift >= 0 ? ' '.repeat(shift) + l : l.replace(new RegExp(`^ {0,${-shift}}`), '');
    return lines.join('\n');
  }),
  fc.string({ maxLength: 40 }).map((s): Mutation => (t) => `${t}\n${s}`),
);

test('mutated policy files never make parse or validate throw', async () => {
  assert.ok(SEEDS.length > 5, 'seed files found');
  await fc.assert(
    fc.asyncProperty(fc.nat(SEEDS.length - 1), fc.array(mutation, { minLength: 1, maxLength: 4 }), async (seed, mutations) => {
      const text = mutations.reduce((t, m) => m(t), SEEDS[seed] ?? '');
      const ctx: PassContext = { options: { dir: '.' }, diagnostics: [], revision: null };
      const parsed = await parse({ files: [{ path: 'm.yaml', size: text.length, text }] }, ctx);
      const { resources } = validate(parsed, ctx);
      for (const d of ctx.diagnostics) {
        assert.ok(Object.hasOwn(CODES, d.code), `known code ${d.code}`);
        assert.equal(d.file, 'm.yaml');
        assert.ok(d.line >= 1 && d.column >= 1, `${d.code} has a position`);
        assert.ok(d.endLine > d.line || (d.endLine === d.line && d.endColumn >= d.column), `${d.code} span is ordered`);
      }
      for (const r of resources) assert.equal(typeof r.metadata.namespace, 'string');
    }),
    { numRuns: Number(process.env.WEFT_FUZZ_RUNS ?? 200) },
  );
});

test('arbitrary text never makes parse or validate throw', async () => {
  await fc.assert(
    fc.asyncProperty(fc.string({ unit: 'binary', maxLength: 300 }), async (text) => {
      const ctx: PassContext = { options: { dir: '.' }, diagnostics: [], revision: null };
      validate(await parse({ files: [{ path: 'r.yaml', size: text.length, text }] }, ctx), ctx);
      for (const d of ctx.diagnostics) assert.ok(Object.hasOwn(CODES, d.code));
    }),
    { numRuns: Number(process.env.WEFT_FUZZ_RUNS ?? 200) },
  );
});
