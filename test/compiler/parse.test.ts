/**
 * The parse pass: values and source positions from js-yaml's event stream, multi-document
 * files, and every YAML feature Weft refuses reported as a finding instead of thrown.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse, parseYaml } from '../../compiler/parse.js';
import { spanAt } from '../../compiler/diagnostics.js';
import type { PassContext } from '../../compiler/types.js';

function ctx(): PassContext {
  return { options: { dir: '.' }, diagnostics: [], revision: null };
}

test('positions: every key and value has its 1-based line and column', () => {
  const c = ctx();
  const text = 'a: 1\nb:\n  - x\n  - { c: "d" }\n  - |\n    block\n';
  const [doc] = parseYaml('f.yaml', text, c);
  assert.ok(doc);
  assert.deepEqual(doc.value, { a: 1, b: ['x', { c: 'd' }, 'block\n'] });
  assert.deepEqual(doc.origin.positions.get('/a'), { value: { line: 1, column: 4, endLine: 1, endColumn: 5 }, key: { line: 1, column: 1, endLine: 1, endColumn: 2 } });
  assert.deepEqual(doc.origin.positions.get('/b/0')?.value, { line: 3, column: 5, endLine: 3, endColumn: 6 });
  // A quoted scalar's span includes its quotes.
  assert.deepEqual(doc.origin.positions.get('/b/1/c')?.value, { line: 4, column: 10, endLine: 4, endColumn: 13 });
  assert.deepEqual(doc.origin.positions.get('/b/1/c')?.key, { line: 4, column: 7, endLine: 4, endColumn: 8 });
  assert.equal(doc.origin.positions.get('/b/2')?.value.line, 6);
  assert.deepEqual(spanAt(doc.origin, '/b/1/missing'), doc.origin.positions.get('/b/1')?.value);
  assert.deepEqual(c.diagnostics, []);
});

test('multi-document files: empty documents are skipped, indexes count every document', () => {
  const c = ctx();
  const docs = parseYaml('f.yaml', '---\n# nothing\n---\na: 1\n---\n---\nb: 2\n...\n', c);
  assert.deepEqual(docs.map((d) => [d.document, d.value, d.origin.span.line]), [
    [1, { a: 1 }, 4],
    [3, { b: 2 }, 7],
  ]);
  assert.deepEqual(c.diagnostics, []);
});

test('pointer tokens are escaped per RFC 6901', () => {
  const docs = parseYaml('f.yaml', 'x:\n  a/b~c: 1\n', ctx());
  assert.ok(docs[0]?.origin.positions.has('/x/a~1b~0c'));
});

test('scalars resolve by the YAML 1.2 core schema; quoted stay strings', () => {
  const [doc] = parseYaml('f.yaml', 'a: 0x10\nb: "10"\nc: true\nd: yes\ne: ~\nf: 1.5\ng: !!str 12\nh: !!int "7"\ni: 2024-01-01\n', ctx());
  assert.deepEqual(doc?.value, { a: 16, b: '10', c: true, d: 'yes', e: null, f: 1.5, g: '12', h: 7, i: '2024-01-01' });
});

test('a duplicate key is WFT202 at the second key; the first value is kept', () => {
  const c = ctx();
  const [doc] = parseYaml('f.yaml', 'a: 1\nb:\n  c: 1\n  c: { d: 2 }\n', c);
  assert.deepEqual(doc?.value, { a: 1, b: { c: 1 } });
  assert.deepEqual(c.diagnostics.map((d) => [d.code, d.line, d.column]), [['WFT202', 4, 3]]);
  assert.equal(doc?.origin.positions.get('/b/c')?.value.line, 3);
  assert.equal(doc?.origin.positions.has('/b/c/d'), false);
});

test('syntax errors are WFT201 with the position js-yaml gives', () => {
  const c = ctx();
  assert.deepEqual(parseYaml('f.yaml', 'a: 1\n  b: 2\n', c), []);
  assert.deepEqual(c.diagnostics.map((d) => [d.code, d.file, d.line, d.column]), [['WFT201', 'f.yaml', 2, 4]]);
});

test('custom tags, non-string keys, undefined aliases and alias bombs are WFT206; the document is dropped', () => {
  for (const [text, line] of [
    ['a: !env X\n', 1],
    ['? [a, b]\n: 1\n', 1],
    ['a: 1\nb: *nope\n', 2],
    ['a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n', 4],
  ] as const) {
    const c = ctx();
    assert.deepEqual(parseYaml('f.yaml', `${text}---\nok: 1\n`, c).map((d) => d.value), [{ ok: 1 }], text);
    assert.deepEqual(c.diagnostics.map((d) => [d.code, d.line]), [['WFT206', line]], text);
  }
  const deep = ctx();
  parseYaml('f.yaml', `${'['.repeat(200)}${']'.repeat(200)}\n`, deep);
  assert.deepEqual(deep.diagnostics.map((d) => d.code), ['WFT206']);
});

test('aliases within the budget are expanded into independent copies', () => {
  const [doc] = parseYaml('f.yaml', 'a: &x { k: [1] }\nb: *x\n', ctx());
  const v = doc?.value as { a: { k: number[] }; b: { k: number[] } };
  assert.deepEqual(v.b, { k: [1] });
  assert.notEqual(v.a, v.b);
});

test('a __proto__ key is data, never a prototype', () => {
  const [doc] = parseYaml('f.yaml', '__proto__: { polluted: true }\n', ctx());
  const v = doc?.value as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(v), Object.prototype);
  assert.deepEqual(Object.keys(v), ['__proto__']);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test('parse checks resource shape: WFT203, WFT204 (with a hint), WFT205', async () => {
  const c = ctx();
  const text = [
    '- a list',
    '---\nkind: Service\nmetadata: { name: a }',
    '---\napiVersion: weft.dev/v1alpha1\nkind: HttpRoute\nmetadata: { name: a }',
    '---\napiVersion: weft.dev/v1alpha1\nkind: HTTPRoute\nmetadata: { name: a }',
    '---\napiVersion: weft.dev/v1alpha1\nkind: Service\nmetadata: { name: ok }\nspec: {}',
  ].join('\n');
  const tree = await parse({ files: [{ path: 'r.yaml', size: text.length, text }, { path: 'skipped.yaml', size: 9, text: null }] }, c);
  assert.deepEqual(tree.documents.map((d) => (d.value as { metadata: { name: string } }).metadata.name), ['ok']);
  assert.deepEqual(c.diagnostics.map((d) => [d.code, d.line]), [['WFT203', 1], ['WFT203', 3], ['WFT204', 7], ['WFT205', 10]]);
  assert.equal(c.diagnostics[2]?.hint, 'did you mean "HTTPRoute"?');
});

test('after a syntax error, the other documents of the file are still parsed and checked', () => {
  const c = ctx();
  const docs = parseYaml('f.yaml', 'a: 1\n---\nb: 2\n  c: 3\n---\nd: [1\n---\ne: { x: 1, x: 2 }\n', c);
  assert.deepEqual(docs.map((d) => [d.value, d.origin.span.line]), [[{ a: 1 }, 1], [{ e: { x: 1 } }, 8]]);
  assert.deepEqual(c.diagnostics.map((d) => [d.code, d.line]), [['WFT201', 4], ['WFT201', 6], ['WFT202', 8]]);
});

test('positions recorded at first parse agree with the complete map built on demand, for every example and case file', async () => {
  const { readdirSync, readFileSync, statSync } = await import('node:fs');
  const path = await import('node:path');
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const p = path.join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.ya?ml$/.test(name)) files.push(p);
    }
  };
  walk('policies');
  walk('test/compiler/cases');
  assert.ok(files.length > 50, `only ${files.length} files found`);
  let eager = 0;
  for (const f of files) {
    for (const doc of parseYaml(f, readFileSync(f, 'utf8'), ctx())) {
      // Asked first: answered by what the first parse recorded, when it recorded it.
      const asked = new Map<string, unknown>();
      for (const p of ['', '/spec', '/metadata', '/metadata/name', '/spec/targetRefs', '/spec/rules', '/spec/rules/0', '/spec/rules/1', '/spec/rules/0/matches/0', '/spec/rules/0/matches/1', '/spec/rules/1/matches/0']) {
        asked.set(p, doc.origin.positions.get(p));
      }
      // Then the complete map (parsed again): it must agree on every pointer.
      const complete = new Map(doc.origin.positions.entries());
      for (const [p, got] of asked) {
        assert.deepEqual(got, complete.get(p), `${f} document ${doc.document}: ${p || '(root)'}`);
        if (got !== undefined) eager++;
      }
    }
  }
  assert.ok(eager > 200, `only ${eager} pointers compared`);
});
