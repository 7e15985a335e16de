/**
 * docs/diagnostics.md documents exactly the codes of compiler/codes.ts: one `### CODE name`
 * entry each, in numeric order, with the severity CODES gives, an example and a fix.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CODES, type Code } from '../../compiler/codes.js';

const DOC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'docs', 'diagnostics.md');

test('docs/diagnostics.md lists exactly the codes in CODES, each with severity, example and fix', () => {
  const text = readFileSync(DOC, 'utf8');
  const entries = [...text.matchAll(/^### (WFT\d{3}) ([a-z0-9-]+)\n([\s\S]*?)(?=^##|(?![\s\S]))/gm)];
  const listed = entries.map((m) => m[1]);
  assert.deepEqual(listed, Object.keys(CODES).sort(), 'codes documented, in order');
  for (const m of entries) {
    const code = m[1] as Code;
    const body = m[3] ?? '';
    assert.equal(m[2], CODES[code].name, `${code} name`);
    assert.match(body, new RegExp(`^\\*\\*${CODES[code].severity}\\*\\* · `, 'm'), `${code} severity`);
    assert.match(body, /```/, `${code} example`);
    assert.match(body, /^\*\*Fix:\*\* \S/m, `${code} fix`);
  }
  // No stray mention of a code that does not exist.
  const mentioned = new Set(text.match(/WFT\d{3}/g));
  for (const c of mentioned) assert.ok(Object.hasOwn(CODES, c), `${c} is mentioned but not in CODES`);
});
