/**
 * RUNTIME_ERRORS (runtime/errors.ts) is the one table of runtime error codes: docs/runtime-errors.md
 * is generated from it (errors-page.ts) and lists exactly its codes with the same statuses and
 * meanings, and no source file under runtime/
 * or bin/ writes a WEFT_ code the table lacks (the type checker covers WeftError and its
 * subclasses; this covers strings built by hand, such as a raw HTTP answer on a socket).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isRuntimeCode, RUNTIME_ERRORS, usualStatus, WeftError, type RuntimeCode, type RuntimeErrorInfo } from '../../runtime/errors.js';
import { ERRORS_PAGE, errorsPage, statusCell } from './errors-page.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sources(p));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

describe('runtime error codes', () => {
  it('docs/runtime-errors.md has one row per code, in table order, with its status and meaning', () => {
    const text = readFileSync(ERRORS_PAGE, 'utf8');
    const rows = [...text.matchAll(/^\| `(WEFT_[A-Z0-9_]+)` \| ([^|]+) \| ([^|]+) \| (.+) \|$/gm)];
    assert.deepEqual(
      rows.map((r) => r[1]),
      Object.keys(RUNTIME_ERRORS),
    );
    for (const r of rows) {
      const info: RuntimeErrorInfo = RUNTIME_ERRORS[r[1] as RuntimeCode];
      assert.equal(r[2]!.trim(), info.where, `${r[1]} where`);
      assert.equal(r[3]!.trim(), statusCell(info.status), `${r[1]} status`);
      assert.equal(r[4]!.trim(), info.meaning.replaceAll('|', '\\|'), `${r[1]} meaning`);
    }
    for (const c of new Set(text.match(/WEFT_[A-Z0-9_]+/g))) assert.ok(isRuntimeCode(c), `${c} is mentioned but not in RUNTIME_ERRORS`);
    assert.equal(text, errorsPage(), 'the page is generated: npm run build && node dist/test/runtime/errors-page.js');
  });

  it('every WEFT_ code written in runtime/ and bin/ is in the table (environment variables aside)', () => {
    const files = [...sources(path.join(ROOT, 'runtime')), ...sources(path.join(ROOT, 'bin'))];
    const text = files.map((f) => readFileSync(f, 'utf8')).join('\n');
    const envVars = new Set([...text.matchAll(/env(?:\.|\[')(WEFT_[A-Z0-9_]+)|env: \{ (WEFT_[A-Z0-9_]+)/g)].map((m) => m[1] ?? m[2]));
    const unknown = new Set<string>();
    for (const m of text.matchAll(/WEFT_[A-Z0-9_]*[A-Z0-9]\b/g)) if (!isRuntimeCode(m[0]) && !envVars.has(m[0])) unknown.add(m[0]);
    assert.deepEqual([...unknown], []);
    assert.ok(envVars.has('WEFT_WEBHOOK_SECRET'), 'the scan sees environment variables');
  });

  it('a WeftError gets its usual status from the table unless given one', () => {
    assert.equal(new WeftError('WEFT_POOL_OVERFLOW', 'x').status, 503);
    assert.equal(new WeftError('WEFT_BUNDLE_DIGEST', 'x').status, 0);
    assert.equal(new WeftError('WEFT_FAULT_ABORT', 'x', 418).status, 418);
    assert.equal(usualStatus('WEFT_CTL_BAD_REQUEST'), 400);
    assert.equal(isRuntimeCode('WEFT_NOPE'), false);
  });
});
