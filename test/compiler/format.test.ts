/**
 * One conformance suite, run against every diagnostics formatter (STYLE.md: one interface, one
 * suite), then what each format alone promises: text excerpts and colour, the JSON array, a
 * well-formed SARIF 2.1.0 log, and GitHub workflow commands that survive hostile text.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FORMATTERS, isFormatName } from '../../compiler/format/index.js';
import { escapeData, escapeProperty } from '../../compiler/format/github.js';
import { CODES } from '../../compiler/codes.js';
import type { Diagnostic } from '../../compiler/types.js';

function diag(over: Partial<Diagnostic>): Diagnostic {
  return { code: 'WFT302', severity: 'error', message: 'unknown field "backendRef" in spec.rules[0]', file: 'routes/a.yaml', line: 3, column: 5, endLine: 3, endColumn: 15, resource: 'HTTPRoute/default/reviews', hint: 'did you mean "backendRefs"?', ...over };
}

const SAMPLE: Diagnostic[] = [
  diag({ code: 'WFT103', file: null, line: 0, column: 0, endLine: 0, endColumn: 0, resource: null, hint: null, message: 'revision "x" does not exist' }),
  diag({}),
  diag({ code: 'WFT502', severity: 'warning', message: 'weights: 100%, a:b, c\nd\r', file: 'dir with space/ü,:%.yaml', line: 1, column: 1, endLine: 2, endColumn: 1, hint: null }),
  diag({ code: 'WFT514', severity: 'info', message: 'hostnames do not apply', line: 9, column: 1, endLine: 9, endColumn: 10, hint: null, resource: null }),
  diag({ code: 'WFT101', file: 'big.yaml', line: 1, column: 1, endLine: 1, endColumn: 1, hint: null, resource: null, message: 'big.yaml is too large' }),
];

const SOURCE = 'apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nspec:\n    backendRef: []\n';

for (const [name, f] of Object.entries(FORMATTERS)) {
  test(`formatter ${name}: conformance`, () => {
    assert.equal(f.name, name);
    assert.ok(isFormatName(name));
    const out = f.format(SAMPLE, { source: () => SOURCE });
    assert.equal(typeof out, 'string');
    assert.ok(out.endsWith('\n'), 'output ends with a newline');
    // Every finding appears, by its code, and in order.
    let at = -1;
    for (const d of SAMPLE) {
      const i = out.indexOf(d.code, at + 1);
      assert.ok(i > at, `${d.code} appears after the previous finding`);
      at = i;
    }
    // Pure: the same input gives the same bytes; colour and sources never reach machine output.
    assert.equal(f.format(SAMPLE, { source: () => SOURCE }), out);
    if (f.machine) {
      assert.equal(f.format(SAMPLE, { color: true, source: () => SOURCE }), f.format(SAMPLE));
      assert.ok(!out.includes('\u001b['), 'no ANSI escapes');
    }
    // Nothing a user can put in a message or a file name breaks the output, or makes it throw.
    const hostile = diag({ message: '::error::x\n%0A\u0000"\\', file: '::a,b.yaml', hint: '\r\n' });
    assert.doesNotThrow(() => f.format([hostile], { source: () => { throw new Error('unreadable'); } }));
    // An empty run is still valid output.
    const empty = f.format([]);
    if (name === 'json') assert.deepEqual(JSON.parse(empty), []);
    if (name === 'sarif') assert.deepEqual((JSON.parse(empty) as { runs: { results: unknown[] }[] }).runs[0]?.results, []);
    if (name === 'github') assert.equal(empty, '');
    if (name === 'text') assert.equal(empty, 'no problems found\n');
  });
}

test('text: location, excerpt with a caret under the span, hint, summary; colour only when asked', () => {
  const out = FORMATTERS.text.format([diag({ line: 4, column: 5, endLine: 4, endColumn: 15 })], { source: () => SOURCE });
  assert.equal(
    out,
    [
      'routes/a.yaml:4:5 error WFT302 unknown field "backendRef" in spec.rules[0]',
      '  4 |     backendRef: []',
      '    |     ^^^^^^^^^^',
      '  hint: did you mean "backendRefs"?',
      '  in HTTPRoute/default/reviews',
      '',
      '1 error, 0 warnings',
      '',
    ].join('\n'),
  );
  assert.ok(FORMATTERS.text.format(SAMPLE, { color: true }).includes('\u001b[31merror'));
  assert.ok(!FORMATTERS.text.format(SAMPLE).includes('\u001b['));
  assert.match(FORMATTERS.text.format(SAMPLE), /^weft error WFT103/);
  assert.match(FORMATTERS.text.format(SAMPLE), /3 errors, 1 warning, 1 note\n$/);
});

test('json: an array of complete Diagnostics', () => {
  const parsed = JSON.parse(FORMATTERS.json.format(SAMPLE)) as Diagnostic[];
  assert.deepEqual(parsed, SAMPLE);
});

test('sarif: a well-formed SARIF 2.1.0 log', () => {
  const log = JSON.parse(FORMATTERS.sarif.format(SAMPLE)) as {
    $schema: string;
    version: string;
    runs: {
      tool: { driver: { name: string; version: string; informationUri: string; rules: { id: string; shortDescription: { text: string }; defaultConfiguration: { level: string } }[] } };
      results: { ruleId: string; ruleIndex: number; level: string; message: { text: string }; locations?: { physicalLocation: { artifactLocation: { uri: string }; region?: Record<string, number> } }[] }[];
    }[];
  };
  assert.equal(log.version, '2.1.0');
  assert.match(log.$schema, /sarif-2\.1\.0/);
  assert.equal(log.runs.length, 1);
  const run = log.runs[0];
  assert.ok(run);
  const { driver } = run.tool;
  assert.equal(driver.name, 'weft');
  assert.match(driver.informationUri, /^https:\/\//);
  assert.deepEqual(driver.rules.map((r) => r.id), Object.keys(CODES));
  for (const r of driver.rules) {
    assert.ok(r.shortDescription.text.length > 0);
    assert.ok(['error', 'warning', 'note'].includes(r.defaultConfiguration.level));
  }
  assert.equal(run.results.length, SAMPLE.length);
  run.results.forEach((r, i) => {
    const d = SAMPLE[i];
    assert.ok(d);
    assert.equal(r.ruleId, d.code);
    assert.equal(driver.rules[r.ruleIndex]?.id, d.code);
    assert.equal(r.level, { error: 'error', warning: 'warning', info: 'note' }[d.severity]);
    assert.ok(r.message.text.startsWith(d.message));
    if (d.file === null) {
      assert.equal(r.locations, undefined);
      return;
    }
    const loc = r.locations?.[0]?.physicalLocation;
    assert.ok(loc);
    assert.equal(decodeURI(loc.artifactLocation.uri), d.file);
    assert.doesNotMatch(loc.artifactLocation.uri, /\s/);
    const region = loc.region;
    assert.ok(region);
    assert.equal(region.startLine, d.line);
    assert.equal(region.startColumn, d.column);
    for (const v of Object.values(region)) assert.ok(Number.isInteger(v) && v >= 1);
    assert.ok((region.endLine ?? 0) > d.line || (region.endColumn ?? 0) >= d.column);
  });
});

test('github: workflow commands with data and property escaping', () => {
  assert.equal(escapeData('a%b\r\nc:d,e'), 'a%25b%0D%0Ac:d,e');
  assert.equal(escapeProperty('a%b\r\nc:d,e'), 'a%25b%0D%0Ac%3Ad%2Ce');
  const lines = FORMATTERS.github.format(SAMPLE).split('\n');
  assert.equal(lines.length, SAMPLE.length + 1);
  assert.equal(lines[0], '::error title=WFT103::revision "x" does not exist');
  assert.equal(lines[1], '::error file=routes/a.yaml,line=3,col=5,endLine=3,endColumn=15,title=WFT302::unknown field "backendRef" in spec.rules[0]%0Adid you mean "backendRefs"?');
  assert.equal(lines[2], '::warning file=dir with space/ü%2C%3A%25.yaml,line=1,col=1,endLine=2,endColumn=1,title=WFT502::weights: 100%25, a:b, c%0Ad%0D');
  assert.match(lines[3] ?? '', /^::notice file=routes\/a\.yaml,line=9,/);
  // One command per line: no raw line break survives inside a command.
  for (const l of lines.slice(0, -1)) assert.match(l, /^::(error|warning|notice) [^\r\n]*::[^\r\n]*$/);
});

test('hostile file names and messages: no raw control character and no forged line in any format', () => {
  // A file name with a newline that would start a workflow command, ANSI escapes (clear screen,
  // window title, a forged green line) and a bidi override, in the name, message, hint and resource.
  const evil = 'a\n::warning file=x::forged\x1b[2J\x1b]0;title\x07\x1b[32mok\x1b[0m\u202e.yaml';
  const d = diag({ file: evil, message: `cannot parse ${evil}\nsecond line ::error::x`, hint: `rename ${evil}`, resource: `Service/default/${evil}` });
  const source = (): string => `key: \x1b[31mred\x1b[0m\n`;
  for (const name of Object.keys(FORMATTERS)) {
    assert.ok(isFormatName(name));
    const out = FORMATTERS[name].format([d], { color: false, source });
    // eslint-disable-next-line no-control-regex -- the test looks for raw control characters
    assert.doesNotMatch(out, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/, `${name}: a raw control character`);
    for (const line of out.split('\n')) {
      const trimmed = line.trimStart();
      if (name === 'github') assert.match(trimmed, /^(::(error|warning|notice) [^\n]*)?$/, `github: ${JSON.stringify(line)}`);
      else assert.doesNotMatch(trimmed, /^::/, `${name}: a line a CI log would read as a command: ${JSON.stringify(line)}`);
    }
  }
  const text = FORMATTERS.text.format([d], { color: false, source });
  assert.match(text, /a\\n::warning file=x::forged\\x1b\[2J\\x1b\]0;title\\x07\\x1b\[32mok\\x1b\[0m\\u202e\.yaml:3:5 error WFT302/);
  assert.match(text, /\n {4}\| second line ::error::x\n/);
});
