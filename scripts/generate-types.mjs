/**
 * Generates TypeScript types from the JSON Schemas, so the schemas are the one source of the
 * shapes the compiler and the proxy share: schemas/<name>.schema.json → schemas/generated/<name>.ts
 * (json-schema-to-typescript). `npm run build` (and so `prepare` and `npm test`) runs it before
 * tsc; the output is committed so a bare `tsc` works in a fresh clone, and
 * test/schemas/generated-types.test.ts fails when a committed file differs from what the schema
 * generates. Usage: node scripts/generate-types.mjs [--check] [--schemas DIR]  (DIR/generated/ is written or checked)
 */
import { readdir, readFile, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compile } from 'json-schema-to-typescript';

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
  return out;
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
