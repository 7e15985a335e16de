/**
 * What GitHub receives from a PR run: workflow-command annotations with the toolkit's escaping
 * (%, CR, LF in messages; also : and , in properties), ordered with the changed lines first
 * (`--changed-from`), and a SARIF log with every property SARIF 2.1.0 requires.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { makeRepo, MESH, weft } from './helpers.js';
import { changeRank, orderByChanges, parseUnifiedDiff } from '../../compiler/diff/changed-lines.js';
import type { Diagnostic } from '../../compiler/types.js';

const FAULT = (name: string) => `apiVersion: weft.dev/v1alpha1
kind: Fault
metadata: { name: ${name} }
spec:
  abort: { status: 500, percent: 1 }
`;

test('parseUnifiedDiff reads hunks of git diff --unified=0, including pure deletions and new files', () => {
  const text = [
    'diff --git a/p/a.yaml b/p/a.yaml',
    'index 1..2 100644',
    '--- a/p/a.yaml',
    '+++ b/p/a.yaml',
    '@@ -3 +3 @@ spec:',
    '-x',
    '+y',
    '@@ -10,2 +11,3 @@',
    '@@ -20,4 +22,0 @@',
    'diff --git a/p/new file.yaml b/p/new file.yaml',
    '--- /dev/null',
    '+++ b/p/new file.yaml',
    '@@ -0,0 +1,5 @@',
    'diff --git a/gone.yaml b/gone.yaml',
    '--- a/gone.yaml',
    '+++ /dev/null',
    '@@ -1,3 +0,0 @@',
  ].join('\n');
  const m = parseUnifiedDiff(text);
  assert.deepEqual(Object.fromEntries(m), {
    'p/a.yaml': [
      [3, 3],
      [11, 13],
      [22, 22],
    ],
    'p/new file.yaml': [[1, 5]],
  });
});

test('orderByChanges: changed lines, then changed files, then the rest; stable inside each group', () => {
  const d = (file: string | null, line: number, endLine = line): Diagnostic => ({ code: 'WFT510', severity: 'warning', message: `${file}:${line}`, file, line, column: 1, endLine, endColumn: 2, resource: null, hint: null });
  const changes = new Map([['pol/b.yaml', [[10, 12]] as [number, number][]]]);
  const input = [d(null, 0), d('a.yaml', 1), d('b.yaml', 2), d('b.yaml', 9, 10), d('b.yaml', 11), d('c.yaml', 1)];
  assert.equal(changeRank(input[3]!, changes, 'pol/'), 0, 'a span that reaches into a changed line counts');
  assert.deepEqual(
    orderByChanges(input, changes, 'pol/').map((x) => x.message),
    ['b.yaml:9', 'b.yaml:11', 'b.yaml:2', 'null:0', 'a.yaml:1', 'c.yaml:1'],
  );
});

test('weft validate --changed-from puts the PR\'s own findings first; without it, position order', async (t) => {
  const repo = makeRepo();
  t.after(() => repo.cleanup());
  // Before the PR: a warning in a file the PR does not touch (sorted first by path) and one at
  // the end of the file it does touch.
  repo.commit({ 'aaa.yaml': FAULT('old-a'), 'routes/reviews.yaml': `${MESH['routes/reviews.yaml']!}---\n${FAULT('old-r')}` }, 'old warnings');
  repo.commit({ 'routes/reviews.yaml': `${MESH['routes/reviews.yaml']!.replace('- name: reviews-v1', '- name: reviews-v7')}---\n${FAULT('old-r')}` }, 'the PR');
  const codes = (out: string) => out.trimEnd().split('\n').map((l) => /::(\w+) file=([^,]+),line=(\d+).*title=(\w+)/.exec(l)?.slice(1).join(' '));
  const plain = await weft(repo.dir, 'validate', 'policies', '--format', 'github');
  assert.equal(plain.code, 1);
  const ordered = await weft(repo.dir, 'validate', 'policies', '--format', 'github', '--changed-from', 'pr~1');
  assert.equal(ordered.code, 1, 'the order changes, the exit code does not');
  const p = codes(plain.stdout);
  const o = codes(ordered.stdout);
  assert.equal(p.length, 3);
  assert.match(p[0] ?? '', /^warning policies\/aaa\.yaml 3 WFT510$/);
  assert.match(o[0] ?? '', /^error policies\/routes\/reviews\.yaml \d+ WFT403$/, 'the changed line first');
  assert.match(o[1] ?? '', /^warning policies\/routes\/reviews\.yaml \d+ WFT510$/, 'then the changed file');
  assert.match(o[2] ?? '', /^warning policies\/aaa\.yaml 3 WFT510$/, 'then the rest');
  assert.deepEqual([...o].sort(), [...p].sort(), 'same findings');

  const bad = await weft(repo.dir, 'validate', 'policies', '--changed-from', 'no-such-rev');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^weft: --changed-from no-such-rev: /);
});

test('github annotations escape %, CR/LF in messages and : , in properties', async (t) => {
  const repo = makeRepo();
  t.after(() => repo.cleanup());
  repo.commit(
    {
      'odd/a,b:c.yaml': `apiVersion: weft.dev/v1alpha1
kind: Service
metadata:
  name: "50%off"
spec:
  ports: [{ name: http, port: 80 }]
  endpont: []
`,
    },
    'odd',
  );
  const r = await weft(repo.dir, 'validate', 'policies', '--format', 'github');
  assert.equal(r.code, 1);
  const lines = r.stdout.trimEnd().split('\n');
  assert.ok(lines.every((l) => /^::(error|warning|notice) [^:]*::/.test(l)), 'one workflow command per line');
  const name = lines.find((l) => l.includes('title=WFT306'));
  assert.ok(name, r.stdout);
  assert.ok(name.startsWith('::error file=policies/odd/a%2Cb%3Ac.yaml,line=4,'), name);
  assert.match(name, /::metadata\.name: "50%25off"/);
  const field = lines.find((l) => l.includes('title=WFT302'));
  assert.ok(field, r.stdout);
  assert.match(field, /%0A/, 'the hint is on a second line, escaped');
  assert.doesNotMatch(field.split('::').slice(2).join('::'), /%(?![0-9A-F]{2})/, 'no bare % in the message');
});

interface SarifLog {
  version: string;
  runs: {
    tool: { driver: { name: string; rules?: { id: string }[] } };
    results?: {
      ruleId?: string;
      ruleIndex?: number;
      level?: string;
      message: { text?: string; id?: string };
      locations?: { physicalLocation?: { artifactLocation?: { uri?: string }; region?: { startLine?: number; startColumn?: number; endLine?: number; endColumn?: number } } }[];
    }[];
  }[];
}

test('SARIF: every property SARIF 2.1.0 requires, levels from its enum, locations that resolve', async (t) => {
  const repo = makeRepo();
  t.after(() => repo.cleanup());
  repo.commit({ 'aaa.yaml': FAULT('orphan'), 'routes/reviews.yaml': MESH['routes/reviews.yaml']!.replace('- name: reviews-v1', '- name: reviews-v7') }, 'findings');
  const r = await weft(repo.dir, 'validate', 'policies', '--format', 'sarif');
  assert.equal(r.code, 1);
  const log = JSON.parse(r.stdout) as SarifLog;
  assert.equal(log.version, '2.1.0');
  assert.ok(Array.isArray(log.runs) && log.runs.length === 1);
  const run = log.runs[0]!;
  assert.equal(typeof run.tool.driver.name, 'string');
  const rules = run.tool.driver.rules ?? [];
  assert.ok(rules.every((x) => typeof x.id === 'string' && x.id !== ''));
  const results = run.results ?? [];
  assert.equal(results.length, 2);
  for (const res of results) {
    assert.ok(typeof res.message.text === 'string' || typeof res.message.id === 'string', 'message.text or message.id');
    if (res.level !== undefined) assert.ok(['none', 'note', 'warning', 'error'].includes(res.level));
    if (res.ruleIndex !== undefined) assert.equal(rules[res.ruleIndex]?.id, res.ruleId, 'ruleIndex points at ruleId');
    for (const loc of res.locations ?? []) {
      const uri = loc.physicalLocation?.artifactLocation?.uri ?? '';
      assert.match(uri, /^policies\/(aaa\.yaml|routes\/reviews\.yaml)$/, 'repository-relative URI');
      const reg = loc.physicalLocation?.region;
      if (reg) {
        assert.ok((reg.startLine ?? 1) >= 1 && (reg.startColumn ?? 1) >= 1);
        if (reg.endLine !== undefined) assert.ok(reg.endLine >= (reg.startLine ?? 1));
      }
    }
  }
  assert.deepEqual(results.map((x) => x.ruleId).sort(), ['WFT403', 'WFT510']);
});
