/**
 * Helpers for the back-end tests (resolve, analyze, lower, emit): build a ValidatedTree from YAML
 * text through the real parse and validate passes (positions included, no files on disk), then
 * run the back-end passes as compile() does.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { parse } from '../../compiler/parse.js';
import { validate } from '../../compiler/validate.js';
import { resolve } from '../../compiler/resolve.js';
import { analyze } from '../../compiler/analyze.js';
import { lower } from '../../compiler/lower.js';
import { emit } from '../../compiler/emit.js';
import { compareDiagnostics, hasErrors } from '../../compiler/diagnostics.js';
import type { Diagnostic, PassContext, ValidatedTree, CompileOptions } from '../../compiler/types.js';
import type { Bundle } from '../../schemas/bundle.js';

export function newContext(options: Partial<CompileOptions> = {}): PassContext {
  return { options: Object.freeze({ dir: '.', ...options }), diagnostics: [], revision: null };
}

/** frontEnd parses (and validates) `files` (path → YAML text) into a ValidatedTree. */
export async function frontEnd(files: Record<string, string>, ctx: PassContext = newContext()): Promise<ValidatedTree> {
  const loaded = {
    files: Object.keys(files)
      .sort()
      .map((path) => ({ path, size: (files[path] ?? '').length, text: files[path] ?? '' })),
  };
  const parsed = await parse(loaded, ctx);
  return validate(parsed, ctx);
}

export interface BackEndResult {
  diagnostics: Diagnostic[];
  bundle: Bundle | null;
  json: string | null;
}

/** backEnd runs resolve → analyze → lower → emit as compile() does (lower and emit only without errors). */
export function backEnd(tree: ValidatedTree, ctx: PassContext = newContext()): BackEndResult {
  const resolved = analyze(resolve(tree, ctx), ctx);
  if (hasErrors(ctx.diagnostics)) return { diagnostics: [...ctx.diagnostics].sort(compareDiagnostics), bundle: null, json: null };
  const out = emit(lower(resolved, ctx), ctx);
  const ok = !hasErrors(ctx.diagnostics);
  return { diagnostics: [...ctx.diagnostics].sort(compareDiagnostics), bundle: ok ? out.bundle : null, json: ok ? out.json : null };
}

/** compileYaml is frontEnd then backEnd over one context. */
export async function compileYaml(files: Record<string, string>, options: Partial<CompileOptions> = {}): Promise<BackEndResult> {
  const ctx = newContext(options);
  const tree = await frontEnd(files, ctx);
  return backEnd(tree, ctx);
}

/** svc is a Service document with one port (9080) and one endpoint. */
export function svc(name: string, opts: { namespace?: string; ports?: number[]; endpoints?: boolean } = {}): string {
  const ports = (opts.ports ?? [9080]).map((p, i) => `    - { name: p${i}, port: ${p} }`).join('\n');
  const eps = opts.endpoints === false ? '' : `  endpoints:\n    - { address: 10.0.0.1 }\n`;
  return `apiVersion: weft.dev/v1alpha1
kind: Service
metadata: { name: ${name}${opts.namespace ? `, namespace: ${opts.namespace}` : ''} }
spec:
  ports:
${ports}
${eps}---
`;
}

/** isSubset is true when every member of `expected` (deeply) appears in `actual`; arrays match element-wise. */
export function isSubset(actual: unknown, expected: unknown): boolean {
  if (expected === null || typeof expected !== 'object') return Object.is(actual, expected);
  if (Array.isArray(expected)) {
    return Array.isArray(actual) && actual.length === expected.length && expected.every((e, i) => isSubset(actual[i], e));
  }
  if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return false;
  const a = actual as Record<string, unknown>;
  return Object.entries(expected as Record<string, unknown>).every(([k, v]) => k in a && isSubset(a[k], v));
}

/** readTree reads every YAML file under `dir` into { relative/posix/path: text }, sorted. */
export function readTree(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const f of readdirSync(d).sort()) {
      const p = path.join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.ya?ml$/.test(f)) files[path.relative(dir, p).split(path.sep).join('/')] = readFileSync(p, 'utf8');
    }
  };
  walk(dir);
  return files;
}
