// CUE without evaluating it: units, package clauses, the position index, CUE's error format.
// None of these tests loads the WebAssembly module.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { cuePathSegments, cueUnits, parseCueStderr } from '../../compiler/cue.js';
import { findNode, indexCueFile, newNode, packageName } from '../../compiler/cue-positions.js';

const file = (path: string, text: string) => ({ path, size: text.length, text });

test('packageName reads the clause after comments and attributes, not a field named package', () => {
  assert.equal(packageName('// header\n\n@extern(x)\npackage mesh\n\nresources: []\n'), 'mesh');
  assert.equal(packageName('resources: []\n'), null);
  assert.equal(packageName('package: "x"\n'), null);
});

test('cueUnits: one unit per folder and package; package-less files alone; refused, cue.mod and tool files skipped', () => {
  const units = cueUnits([
    file('b/x.cue', 'package p\n'),
    file('a/2.cue', 'package p\n'),
    file('a/1.cue', 'package p\n'),
    file('a/3.cue', 'package q\n'),
    file('a/lone.cue', 'resources: []\n'),
    file('a/other.cue', 'resources: []\n'),
    file('a/m.yaml', 'x: 1\n'),
    file('cue.mod/module.cue', 'module: "example.org/x"\n'),
    file('cue.mod/pkg/example.org/y/y.cue', 'package y\n'),
    file('a/gen_tool.cue', 'package p\n'),
    { path: 'a/big.cue', size: 1 << 30, text: null },
  ]);
  assert.deepEqual(
    units.map((u) => [u.dir, u.pkg, u.files.map((f) => f.path)]),
    [
      ['a', 'p', ['a/1.cue', 'a/2.cue']],
      ['a', 'q', ['a/3.cue']],
      ['a', null, ['a/lone.cue']],
      ['a', null, ['a/other.cue']],
      ['b', 'p', ['b/x.cue']],
    ],
  );
});

test('the index finds literal fields, list elements, comprehension bodies and definition fields', () => {
  const root = newNode();
  const text = [
    'package mesh', // 1
    '#P: {', // 2
    '\tkind: "BackendPolicy"', // 3
    '\tspec: loadBalancer: type: *"RoundRobin" | "Random"', // 4
    '}', // 5
    'resources: {', // 6
    '\tlit: #P & {', // 7
    '\t\tspec: targetRefs: [{kind: "Service", name: "a"}, {name: "b"}]', // 8
    '\t}', // 9
    '\tfor s in ["x", "y"] {', // 10
    '\t\t"gen-\\(s)": #P & {metadata: name: s}', // 11
    '\t}', // 12
    '}', // 13
    'note: """', // 14
    '\tresources: { fake: 1 }', // 15
    '\t"""', // 16
  ].join('\n');
  indexCueFile(root, 'm.cue', text);
  const line = (path: string[]) => findNode(root, path, 'm.cue')?.at.get('m.cue')?.value.line;
  assert.equal(line(['resources', 'lit']), 7);
  assert.equal(line(['resources', 'lit', 'spec', 'targetRefs', '1', 'name']), 8);
  assert.equal(findNode(root, ['resources', 'lit', 'spec', 'targetRefs', '1', 'name'], 'm.cue')?.at.get('m.cue')?.value.column, 59);
  assert.equal(line(['resources', 'lit', 'kind']), 3, 'a field from the definition the value names');
  assert.equal(line(['resources', 'gen-x']), 11, 'an interpolated label is a wildcard');
  assert.equal(line(['resources', 'gen-x', 'metadata', 'name']), 11);
  assert.equal(line(['resources', 'gen-y', 'spec', 'loadBalancer', 'type']), 4);
  assert.equal(findNode(root, ['note', 'resources']), null, 'text inside a multi-line string is not structure');
  assert.equal(findNode(root, ['resources', 'lit', 'nope']), null);
});

test('the index never throws on broken text', () => {
  const root = newNode();
  for (const text of ['resources: {', 'a: "unterminated', '}}}]]', 'x: #"raw \\#(y)"#', 'a: """\nno end', '@', '#', '...']) {
    indexCueFile(root, 'x.cue', text);
  }
});

test('parseCueStderr maps positions back to tree paths and keeps messages whole', () => {
  const stderr = [
    'resources.reviews.spec.weight: invalid value 190 (out of bound <=100):',
    '    ../../tmp/weft-cue-1/policies/a.cue:6:28',
    '    ../../tmp/weft-cue-1/policies/a.cue:10:16',
    'resources.0.x: incomplete value int',
    'reference "resources" not found:',
    '    --expression:1:1',
    '',
  ].join('\n');
  const errors = parseCueStderr(stderr, '/work/main', '/tmp/weft-cue-1');
  assert.deepEqual(errors, [
    {
      message: 'resources.reviews.spec.weight: invalid value 190 (out of bound <=100)',
      positions: [
        { file: 'policies/a.cue', line: 6, column: 28, raw: '../../tmp/weft-cue-1/policies/a.cue' },
        { file: 'policies/a.cue', line: 10, column: 16, raw: '../../tmp/weft-cue-1/policies/a.cue' },
      ],
    },
    { message: 'resources.0.x: incomplete value int', positions: [] },
    { message: 'reference "resources" not found', positions: [{ file: null, line: 1, column: 1, raw: '--expression' }] },
  ]);
});

test('cuePathSegments unquotes quoted labels', () => {
  assert.deepEqual(cuePathSegments('resources."reviews-v1".spec.0'), ['resources', 'reviews-v1', 'spec', '0']);
});

test('property: the index and package reader never throw, whatever the text', () => {
  const piece = fc.constantFrom('a', '#D', '_h', ':', '{', '}', '[', ']', '(', ')', ',', '\n', ' ', '"s"', '"\\(x)"', '"""', "'", '#"', '//c\n', '&', '|', '*', '...', 'for', 'in', 'if', 'let', '=', '?', '!', '@a(', '1', '.', 'package', 'resources');
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 80 }), fc.array(fc.constantFrom('resources', 'a', '0', '*', 'x'), { maxLength: 5 }), (pieces, path) => {
      const text = pieces.join('');
      const root = newNode();
      indexCueFile(root, 'f.cue', text);
      packageName(text);
      findNode(root, path);
      findNode(root, path, 'f.cue');
    }),
    { numRuns: 500 },
  );
});
