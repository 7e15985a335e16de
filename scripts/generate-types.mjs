/**
 * Generates TypeScript types from the JSON Schemas, so the schemas are the one source of the
 * shapes the compiler and the proxy share: schemas/<name>.schema.json → schemas/generated/<name>.ts
 * (json-schema-to-typescript). It also writes schemas/generated/bundle-validate.ts: the bundle
 * schema compiled ahead of time by ajv (standalone code, the options the proxy used to compile it
 * with at start), so a proxy checks bundles without loading ajv or compiling the schema (about
 * 18 MiB of RSS at start, BENCHMARKS.md). `npm run build` (and so `prepare` and `npm test`) runs it before
 * tsc; the output is committed so a bare `tsc` works in a fresh clone, and
 * test/schemas/generated-types.test.ts fails when a committed file differs from what the schema
 * generates. Usage: node scripts/generate-types.mjs [--check] [--schemas DIR]  (DIR/generated/ is written or checked)
 */
import { readdir, readFile, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compile } from 'json-schema-to-typescript';
import { Ajv2020 } from 'ajv/dist/2020.js';
import standaloneCode from 'ajv/dist/standalone/index.js';

const ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

/** generatedTypes returns file name → TypeScript text for every schema in `schemas`, in name order. */
export async function generatedTypes(schemas) {
  const names = (await readdir(schemas)).filter((f) => f.endsWith('.schema.json')).sort();
  const out = new Map();
  for (const file of names) {
    const schema = JSON.parse(await readFile(path.join(schemas, file), 'utf8'));
    const banner = `// Generated from schemas/${file} by scripts/generate-types.mjs: edit the schema, then run npm run build.`;
    const ts = await compile(schema, schema.title ?? file, {
      bannerComment: banner,
      additionalProperties: false,
      ignoreMinAndMaxItems: true,
      unreachableDefinitions: true,
      cwd: schemas,
      format: true,
      style: { singleQuote: true, printWidth: 120 },
    });
    out.set(file.replace(/\.schema\.json$/, '.ts'), ts);
  }
  const bundle = names.includes('bundle.schema.json') ? JSON.parse(await readFile(path.join(schemas, 'bundle.schema.json'), 'utf8')) : null;
  if (bundle) out.set('bundle-validate.ts', bundleValidator(bundle));
  return out;
}

/** BUNDLE_AJV_OPTIONS are the ajv options the bundle schema is compiled with (runtime/bundle/verify.ts). */
export const BUNDLE_AJV_OPTIONS = { allErrors: false, strict: false };

/** collectNames gathers every property name a schema defines (safe to repeat in a rejection message). */
function collectNames(node, out) {
  if (Array.isArray(node)) {
    for (const n of node) collectNames(n, out);
    return;
  }
  if (typeof node !== 'object' || node === null) return;
  for (const [k, v] of Object.entries(node)) {
    if (k === 'properties' && typeof v === 'object' && v !== null) for (const name of Object.keys(v)) out.add(name);
    collectNames(v, out);
  }
}

/**
 * bundleValidator is the TypeScript module holding the bundle schema's ajv validator as code
 * (ajv standalone, ES module) and the schema's property names. The code is exactly the function
 * ajv compiles from the schema at run time with the same options; it is not type-checked.
 */
export function bundleValidator(schema) {
  const ajv = new Ajv2020({ ...BUNDLE_AJV_OPTIONS, code: { source: true, esm: true } });
  const code = standaloneCode(ajv, ajv.compile(schema));
  if (/\brequire\(/.test(code)) throw new Error('bundle-validate: the standalone validator needs an ajv runtime module; import it explicitly');
  const names = new Set();
  collectNames(schema, names);
  return [
    '// Generated from schemas/bundle.schema.json by scripts/generate-types.mjs (ajv standalone code): edit the schema, then run npm run build.',
    '// @ts-nocheck',
    '/* eslint-disable */',
    // Non-ASCII only occurs in the schema's own strings (descriptions): escaped, so that V8 keeps
    // the module's source as one byte per character (a single "→" made it UTF-16: 1.45 MiB of heap).
    code.replace(/^"use strict";/, '').replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`),
    '',
    '/** bundleSchemaNames: every property name the bundle schema defines (rejection messages repeat only these). */',
    `export const bundleSchemaNames = ${JSON.stringify([...names].sort())};`,
    '',
  ].join('\n');
}

function flag(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] !== undefined ? path.resolve(process.argv[i + 1]) : fallback;
}

async function main() {
  const check = process.argv.includes('--check');
  const schemas = flag('--schemas', path.join(ROOT, 'schemas'));
  const outDir = path.join(schemas, 'generated');
  const files = await generatedTypes(schemas);
  let stale = 0;
  if (!check) await mkdir(outDir, { recursive: true });
  for (const [name, text] of files) {
    const target = path.join(outDir, name);
    const current = await readFile(target, 'utf8').catch(() => null);
    if (current === text) continue;
    stale++;
    if (check) console.error(`schemas/generated/${name} is not what its schema generates: run npm run build`);
    else await writeFile(target, text);
  }
  if (check && stale > 0) process.exit(1);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
