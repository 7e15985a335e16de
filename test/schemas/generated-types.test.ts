/**
 * The TypeScript types of the bundle and of every policy kind are generated from the JSON Schemas
 * (scripts/generate-types.mjs, run by `npm run build`). The committed output must be exactly what
 * the schemas generate, and a schema change must show up in the types.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const SCRIPT = path.join(ROOT, 'scripts', 'generate-types.mjs');

function generate(...args: string[]): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [SCRIPT, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stderr: r.stderr };
}

test('schemas/generated/ is exactly what the schemas generate', () => {
  const r = generate('--check');
  assert.equal(r.status, 0, r.stderr);
});

test('a field added to a schema is reported as stale, then appears in the generated type', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'weft-gen-'));
  after(() => rm(dir, { recursive: true, force: true }));
  await cp(path.join(ROOT, 'schemas'), dir, { recursive: true, filter: (src) => !src.endsWith('.ts') || src.includes('generated') });
  const file = path.join(dir, 'fault.schema.json');
  const schema = JSON.parse(await readFile(file, 'utf8')) as { properties: { spec: { properties: Record<string, unknown> } } };
  schema.properties.spec.properties.jitterPercent = { type: 'integer', minimum: 0, maximum: 100, description: 'a field for this test' };
  await writeFile(file, JSON.stringify(schema, null, 2) + '\n');

  const stale = generate('--check', '--schemas', dir);
  assert.equal(stale.status, 1);
  assert.match(stale.stderr, /schemas\/generated\/fault\.ts is not what its schema generates/);

  assert.equal(generate('--schemas', dir).status, 0);
  assert.match(await readFile(path.join(dir, 'generated', 'fault.ts'), 'utf8'), /a field for this test\s*\*\/\s*jitterPercent\?: number;/);
  assert.equal(generate('--check', '--schemas', dir).status, 0);
});
