/**
 * The GitHub workflow and action files are code too: this test parses every one under .github/
 * and docs/examples/ (and the YAML examples in docs/pr-validation.md), finds every `weft <command>`
 * they run, and checks against the real CLI that the command exists and its --help lists every
 * flag used. It also checks that the inputs given to the validate action are inputs it declares,
 * and runs the action's shell steps the way a runner would, against a real repository.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as yaml from 'js-yaml';
import { makeRepo, MESH, ROOT, weft, WEFT } from './helpers.js';

function yamlFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...yamlFiles(p));
    else if (/\.ya?ml$/.test(e.name)) out.push(p);
  }
  return out.sort();
}

interface Step {
  run?: string;
  uses?: string;
  with?: Record<string, unknown>;
}

/** Every step of a workflow (jobs.*.steps) or of a composite action (runs.steps). */
function stepsOf(doc: unknown): Step[] {
  const d = doc as { jobs?: Record<string, { steps?: Step[] }>; runs?: { steps?: Step[] } };
  return [...Object.values(d.jobs ?? {}).flatMap((j) => j.steps ?? []), ...(d.runs?.steps ?? [])];
}

/** The YAML documents to check: files, plus ```yaml blocks of docs/pr-validation.md. */
function documents(): { where: string; doc: unknown }[] {
  const files = [...yamlFiles(path.join(ROOT, '.github')), ...yamlFiles(path.join(ROOT, 'docs', 'examples'))];
  const out = files.map((f) => ({ where: path.relative(ROOT, f), doc: yaml.load(readFileSync(f, 'utf8')) }));
  const md = readFileSync(path.join(ROOT, 'docs', 'pr-validation.md'), 'utf8');
  let i = 0;
  for (const m of md.matchAll(/```yaml\n([\s\S]*?)```/g)) out.push({ where: `docs/pr-validation.md yaml block ${++i}`, doc: yaml.load(m[1] ?? '') });
  return out;
}

/** A weft invocation in a shell script: `weft CMD ...`, `npx weft CMD ...`, `node "$WEFT_BIN" CMD ...`. */
const INVOCATION = /(?:^|[\s;&|(])(?:npx\s+(?:--no-install\s+)?weft|weft|node\s+"?\$\{?WEFT_BIN\}?"?)\s+([a-z][a-z-]*)([^\n]*)/g;

function invocations(script: string): { command: string; flags: string[] }[] {
  const out: { command: string; flags: string[] }[] = [];
  for (const m of script.matchAll(INVOCATION)) {
    // Flags end where the shell takes over: a redirection, a pipe, a list operator, a comment.
    const args = (m[2] ?? '').split(/\s(?:>|\||&&|\|\||#)/)[0] ?? '';
    out.push({ command: m[1] ?? '', flags: [...args.matchAll(/(?:^|\s)(--[a-z][a-z-]*|-[A-Za-z])(?==|\s|$)/g)].map((f) => f[1] ?? '') });
  }
  return out;
}

test('every workflow and action file parses', () => {
  const docs = documents();
  assert.ok(docs.length >= 6, `found ${docs.length}`);
  for (const { where, doc } of docs) {
    assert.equal(typeof doc, 'object', where);
    assert.ok(stepsOf(doc).length > 0, `${where} has steps`);
  }
});

test('every weft command and flag used in a workflow exists (checked against --help)', async () => {
  const used = new Map<string, Set<string>>();
  for (const { where, doc } of documents()) {
    for (const s of stepsOf(doc)) {
      if (typeof s.run !== 'string') continue;
      for (const inv of invocations(s.run)) {
        const set = used.get(inv.command) ?? new Set<string>();
        for (const f of inv.flags) set.add(f);
        used.set(inv.command, set);
        assert.ok(inv.command, where);
      }
    }
  }
  for (const c of ['validate', 'test', 'diff']) assert.ok(used.has(c), `the workflows run weft ${c}`);
  assert.ok(used.get('validate')?.has('--changed-from'));
  const top = await weft(ROOT, '--help');
  assert.equal(top.code, 0);
  for (const [command, flags] of used) {
    assert.match(top.stdout, new RegExp(`^\\s+${command}\\b`, 'm'), `weft ${command} is a command`);
    const help = await weft(ROOT, command, '--help');
    assert.equal(help.code, 0, `weft ${command} --help`);
    for (const f of flags) assert.ok(help.stdout.includes(f), `weft ${command} --help lists ${f}`);
  }
});

test('the validate action is referenced where it exists, with inputs it declares', () => {
  const action = yaml.load(readFileSync(path.join(ROOT, '.github', 'actions', 'validate', 'action.yml'), 'utf8')) as {
    inputs: Record<string, unknown>;
    runs: { using: string };
  };
  assert.equal(action.runs.using, 'composite');
  let references = 0;
  for (const { where, doc } of documents()) {
    for (const s of stepsOf(doc)) {
      if (typeof s.uses !== 'string' || !/(^\.\/|\/weft\/)\.github\/actions\/validate(@|$)/.test(s.uses)) continue;
      references++;
      for (const k of Object.keys(s.with ?? {})) assert.ok(k in action.inputs, `${where}: input "${k}" is declared by the action`);
    }
  }
  assert.ok(references >= 2, 'CI dogfoods the action and the example uses it');
});

test('the PR workflow is read-only and the comment workflow never checks out code', () => {
  const pr = yaml.load(readFileSync(path.join(ROOT, 'docs/examples/policy-repo/.github/workflows/weft-pr.yml'), 'utf8')) as { on: Record<string, unknown>; permissions: Record<string, string> };
  assert.ok('pull_request' in pr.on && !('pull_request_target' in pr.on));
  assert.deepEqual(pr.permissions, { contents: 'read' });
  const comment = yaml.load(readFileSync(path.join(ROOT, 'docs/examples/policy-repo/.github/workflows/weft-comment.yml'), 'utf8'));
  const steps = stepsOf(comment);
  assert.ok(!steps.some((s) => s.uses?.startsWith('actions/checkout')), 'no checkout of fork code');
  assert.ok(!steps.some((s) => typeof s.run === 'string'), 'no shell step runs artifact content');
  assert.ok(steps.some((s) => s.uses?.startsWith('actions/download-artifact')));
});

test('the action\'s shell steps, run as GitHub would on a PR: annotations, summary, artifact files, outputs', (t) => {
  const repo = makeRepo();
  const tmp = mkdtempSync(path.join(tmpdir(), 'weft-gha-'));
  t.after(() => {
    repo.cleanup();
    rmSync(tmp, { recursive: true, force: true });
  });
  // A realistic PR: shift the canary and update the RouteTest that pins the split.
  repo.commit(
    {
      'routes/reviews.yaml': MESH['routes/reviews.yaml']!.replace('weight: 90', 'weight: 80').replace('weight: 10', 'weight: 20'),
      'tests/routing.yaml': MESH['tests/routing.yaml']!.replace('{ reviews-v1: 90, reviews-v2: 10 }', '{ reviews-v1: 80, reviews-v2: 20 }'),
    },
    'shift',
  );
  const action = yaml.load(readFileSync(path.join(ROOT, '.github', 'actions', 'validate', 'action.yml'), 'utf8')) as { runs: { steps: (Step & { name?: string; env?: Record<string, string> })[] } };
  const files = { GITHUB_ENV: path.join(tmp, 'env'), GITHUB_OUTPUT: path.join(tmp, 'output'), GITHUB_STEP_SUMMARY: path.join(tmp, 'summary') };
  for (const f of Object.values(files)) writeFileSync(f, '');
  const context: Record<string, string> = {
    'inputs.directory': 'policies',
    'inputs.base': '',
    'inputs.fail-on': 'error',
    'inputs.sarif-file': 'weft.sarif',
    'github.event.pull_request.base.sha': 'main',
    'github.event.pull_request.number': '42',
  };
  const env: Record<string, string> = { ...(process.env as Record<string, string>), ...files, RUNNER_TEMP: tmp, WEFT_BIN: WEFT, NO_COLOR: '1' };
  const logs: Record<string, string> = {};
  for (const s of action.runs.steps) {
    // Installing (npm ci in the action's checkout) and uploading are GitHub's business, not the test's.
    if (typeof s.run !== 'string' || s.name === 'Install weft') continue;
    for (const line of readFileSync(files.GITHUB_ENV, 'utf8').split('\n')) if (line.includes('=')) env[line.slice(0, line.indexOf('='))] = line.slice(line.indexOf('=') + 1);
    const stepEnv: Record<string, string> = {};
    for (const [k, v] of Object.entries(s.env ?? {})) stepEnv[k] = String(v).replace(/\$\{\{ ([\w.-]+) \}\}/g, (_m, name: string) => context[name] ?? '');
    for (const [k, v] of Object.entries(context)) if (k.startsWith('steps.')) stepEnv[k] = v;
    const r = spawnSync('bash', ['-e', '-o', 'pipefail', '-c', s.run], { cwd: repo.dir, env: { ...env, ...stepEnv }, encoding: 'utf8' });
    logs[s.name ?? ''] = r.stdout + r.stderr;
    if (s.name === 'Result') {
      assert.equal(r.status, 0, `Result: ${logs['Result']}`);
      continue;
    }
    assert.equal(r.status, 0, `${s.name}: ${r.stdout}${r.stderr}`);
    const outputs = readFileSync(files.GITHUB_OUTPUT, 'utf8');
    for (const line of outputs.split('\n')) if (line.includes('=')) context[`steps.${(s as { id?: string }).id ?? ''}.outputs.${line.slice(0, line.indexOf('='))}`] = line.slice(line.indexOf('=') + 1);
    writeFileSync(files.GITHUB_OUTPUT, '');
  }
  assert.equal(context['steps.validate.outputs.code'], '0');
  assert.equal(context['steps.test.outputs.code'], '0');
  assert.equal(context['steps.diff.outputs.changes'], 'true');
  assert.match(logs['weft test'] ?? '', /7 passed, 0 failed/);
  const summary = readFileSync(files.GITHUB_STEP_SUMMARY, 'utf8');
  assert.ok(summary.startsWith('<!-- weft-diff -->'));
  assert.match(summary, /`reviews-v1 90%, reviews-v2 10%` → `reviews-v1 80%, reviews-v2 20%`/);
  const out = path.join(tmp, 'weft');
  assert.equal(readFileSync(path.join(out, 'pr-number.txt'), 'utf8').trim(), '42');
  assert.equal((JSON.parse(readFileSync(path.join(out, 'weft.sarif'), 'utf8')) as { version: string }).version, '2.1.0');
  assert.equal((JSON.parse(readFileSync(path.join(out, 'weft-diff.json'), 'utf8')) as { changes: { matchesChanged: number } }).changes.matchesChanged, 1);
  assert.equal(readFileSync(path.join(out, 'weft-diff.md'), 'utf8'), summary);
});
