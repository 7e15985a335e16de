/**
 * Runs the back-end part of the data-driven corpus (test/compiler/cases/wft4xx-6xx and kind-*)
 * through parse → (validate) → resolve → analyze → lower → emit, checking the exact diagnostics
 * (code and position) and, when given, that the expected bundle fragment is a subset of the spec.
 * The generic runner runs every case through compile(); this one keeps the back end testable on
 * its own.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileYaml, isSubset, readTree } from './backend-helpers.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const CASES = path.join(ROOT, 'test', 'compiler', 'cases');

interface Expected {
  diagnostics: { code: string; file: string | null; line: number; column: number }[];
  bundle?: unknown;
}

for (const name of readdirSync(CASES).sort()) {
  if (!/^(wft[456]\d\d|kind)-/.test(name)) continue;
  const dir = path.join(CASES, name);
  if (!existsSync(path.join(dir, 'expected.json'))) continue;
  test(`case ${name}`, async () => {
    const expected = JSON.parse(readFileSync(path.join(dir, 'expected.json'), 'utf8')) as Expected;
    const result = await compileYaml(readTree(dir));
    const got = result.diagnostics.map((d) => ({ code: d.code, file: d.file, line: d.line, column: d.column }));
    assert.deepEqual(got, expected.diagnostics, result.diagnostics.map((d) => `${d.code} ${d.file}:${d.line}:${d.column} ${d.message}`).join('\n'));
    if (expected.bundle !== undefined) {
      assert.ok(result.bundle, 'expected a bundle');
      assert.ok(isSubset(result.bundle.spec, expected.bundle), `bundle spec does not contain the expected fragment:\n${JSON.stringify(result.bundle.spec, null, 1)}`);
    }
  });
}
