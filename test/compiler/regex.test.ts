/** checkRegex: RE2 or nothing; costly patterns refused with WFT509, invalid ones with WFT508. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkRegex, MAX_REGEX_LENGTH } from '../../compiler/regex.js';

test('RE2 patterns pass', () => {
  for (const p of ['/api/[0-9]+', '^/v[12]/.*$', '(?i)/Items', '(a+)+$', 'a{1000}']) assert.equal(checkRegex(p), null, p);
});

test('backreferences and lookaround are WFT508 with a hint naming RE2', () => {
  for (const p of ['(a)\\1', '(?=x)a', '(?!x)a', '(?<=a)b', '(?<!a)b']) {
    const r = checkRegex(p);
    assert.equal(r?.code, 'WFT508', p);
    assert.match(r?.hint ?? '', /RE2/);
  }
});

test('syntax errors are WFT508', () => {
  for (const p of ['[', '(', 'a{2,1}', '*a']) assert.equal(checkRegex(p)?.code, 'WFT508', p);
});

test('too long, too large a program, or too many repetitions are WFT509', () => {
  assert.equal(checkRegex('a'.repeat(MAX_REGEX_LENGTH + 1))?.code, 'WFT509');
  assert.equal(checkRegex('[a-z]{1000}[0-9]{1000}')?.code, 'WFT509');
  assert.equal(checkRegex('((a{1,100}){1,100}){1,100}')?.code, 'WFT509');
  assert.equal(checkRegex('a{1001}')?.code, 'WFT509');
});

test('verdicts are stable when cached', () => {
  assert.deepEqual(checkRegex('(a)\\1'), checkRegex('(a)\\1'));
});
