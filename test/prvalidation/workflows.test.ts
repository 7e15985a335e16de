/**
 * The GitHub workflow and action files are code too: this test parses every one under .github/
 * and docs/examples/ (and the YAML examples in docs/pr-validation.md), finds every `weft <command>`
 * they run, and checks against the real CLI that the command exists and its --help lists every
 * flag used. It also checks that the inputs given to the validate action are inputs it declares.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import * as yaml from 'js-yaml';
import { ROOT, weft } from './helpers.js';

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
