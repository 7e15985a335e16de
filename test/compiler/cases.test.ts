/**
 * The data-driven compiler corpus: every folder of test/compiler/cases/ is compiled with
 * compile() (all passes, as `weft compile` runs them) and checked against its expected.json:
 *
 *   {
 *     "options":     { "dir": "sub", "rev": "REV", "maxFileBytes": 200 },   optional
 *     "diagnostics": [{ "code": "WFT302", "file": "a.yaml", "line": 5, "column": 7 }],
 *     "bundle":      { ... }   optional: must be a subset of the bundle's spec
 *   }
 *
 * The diagnostics are exact: every error and warning the compile reports must be listed, in the
 * compiler's order (file, line, column, code), and nothing listed may be missing. Info findings
 * are checked only for codes the case lists, so a case about one thing need not spell out
 * unrelated notes. Files without a position have file null and line/column 0.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compile } from '../../compiler/compile.js';
import { canonicalJsonByWalk } from '../../schemas/canonical.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
/** CASES is the corpus folder, in the source tree (cases are data, not compiled). */
const CASES = path.join(ROOT, 'test', 'compiler', 'cases');

interface Expected {
  options?: { dir?: string; rev?: string; maxFileBytes?: number };
  diagnostics: { code: string; file: string | null; line: number; column: number }[];
  bundle?: unknown;
}

/** isSubset: every member of `want` is in `got` (objects by key, arrays element by element). */
function isSubset(got: unknown, want: unknown): boolean {
  if (Array.isArray(want)) return Array.isArray(got) && want.length <= got.length && want.every((w, i) => isSubset(got[i], w));
  if (typeof want === 'object' && want !== null) {
    if (typeof got !== 'object' || got === null || Array.isArray(got)) return false;
    return Object.entries(want).every(([k, w]) => Object.hasOwn(got, k) && isSubset((got as Record<string, unknown>)[k], w));
  }
  return Object.is(got, want);
}

for (const name of readdirSync(CASES).sort()) {
  const dir = path.join(CASES, name);
  if (!existsSync(path.join(dir, 'expected.json'))) continue;
  test(`case ${name}`, async () => {
    const expected = JSON.parse(readFileSync(path.join(dir, 'expected.json'), 'utf8')) as Expected;
    const o = expected.options ?? {};
    const result = await compile({
      dir: o.dir !== undefined ? path.join(dir, o.dir) : dir,
      ...(o.rev !== undefined ? { rev: o.rev } : {}),
      ...(o.maxFileBytes !== undefined ? { maxFileBytes: o.maxFileBytes } : {}),
    });
    const listed = new Set(expected.diagnostics.map((d) => d.code));
    const got = result.diagnostics
      .filter((d) => d.severity !== 'info' || listed.has(d.code))
      .map((d) => ({ code: d.code, file: d.file, line: d.line, column: d.column }));
    const explain = result.diagnostics.map((d) => `${d.severity} ${d.code} ${d.file}:${d.line}:${d.column} ${d.message}`).join('\n');
    assert.deepEqual(got, expected.diagnostics, `diagnostics differ; the compiler reported:\n${explain}`);
    if (expected.bundle !== undefined) {
      assert.ok(result.bundle, `expected a bundle; the compiler reported:\n${explain}`);
      assert.ok(isSubset(result.bundle.spec, expected.bundle), `bundle spec does not contain the expected fragment:\n${JSON.stringify(result.bundle.spec, null, 1)}`);
    }
    // emit serialises what lower built in canonical order without checking it: the bytes must
    // still be the definition's (every key sorted by the walk).
    if (result.bundle) assert.equal(result.bundleJson, `${canonicalJsonByWalk(result.bundle)}\n`, 'the bundle bytes are canonical JSON');
  });
}
