/**
 * schemas/bundle.schema.json and schemas/bundle.ts cannot drift: every bundle the compiler emits
 * (the example mesh, every back-end case, a signed one, a bundle with every optional shape) must
 * validate against the schema with ajv's strict mode, and the schema must refuse what the types
 * refuse (unknown fields, missing fields, wrong enums).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateKeyPairSync } from 'node:crypto';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { compileYaml, readTree } from '../compiler/backend-helpers.js';
import type { Bundle } from '../../schemas/bundle.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const schema = JSON.parse(readFileSync(path.join(ROOT, 'schemas', 'bundle.schema.json'), 'utf8')) as object;
const ajv = new Ajv2020({ allErrors: true, strict: true });
const check = ajv.compile(schema);

function errors(value: unknown): string {
  check(value);
  return ajv.errorsText(check.errors, { separator: '\n' });
}

async function bundleOf(dir: string, signKey?: string): Promise<Bundle | null> {
  return (await compileYaml(readTree(dir), signKey ? { signKey } : {})).bundle;
}

test('the example mesh compiles to a bundle the schema accepts, signed or not', async () => {
  const { privateKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  for (const key of [undefined, pem]) {
    const b = await bundleOf(path.join(ROOT, 'policies'), key);
    assert.ok(b, 'policies/ compiles');
    assert.ok(check(b), errors(b));
    if (key) assert.ok(b.signature);
  }
});

test('every corpus case that yields a bundle satisfies the schema', async () => {
  const cases = path.join(ROOT, 'test', 'compiler', 'cases');
  let n = 0;
  for (const name of readdirSync(cases).sort()) {
    const b = await bundleOf(path.join(cases, name));
    if (!b) continue;
    n++;
    assert.ok(check(b), `${name}: ${errors(b)}`);
  }
  assert.ok(n >= 10, `only ${n} cases yielded a bundle`);
});

test('the schema refuses what the types refuse', async () => {
  const b = await bundleOf(path.join(ROOT, 'test', 'compiler', 'cases', 'kind-httproute'));
  assert.ok(b);
  const mutate = (f: (x: Record<string, unknown> & Bundle) => void): unknown => {
    const copy = structuredClone(b) as Record<string, unknown> & Bundle;
    f(copy);
    return copy;
  };
  const bad: [string, unknown][] = [
    ['unknown top-level field', mutate((x) => { x.extra = 1; })],
    ['missing digest', mutate((x) => { delete (x as Partial<Bundle>).digest; })],
    ['bad digest', mutate((x) => { x.digest = 'md5:abc'; })],
    ['bad apiVersion', mutate((x) => { (x as { apiVersion: string }).apiVersion = 'weft.dev/bundle/v2'; })],
    ['unknown filter', mutate((x) => { (x.spec.services[0]!.routing.producer!.rules[0]!.filters as unknown[]).push({ type: 'CORS' }); })],
    ['fractional weight', mutate((x) => { x.spec.services[0]!.routing.producer!.rules[0]!.backends[0]!.weight = 0.5; })],
    ['empty route table', mutate((x) => { x.spec.services[0]!.routing.producer!.matches = []; })],
    ['bad load balancer', mutate((x) => { (x.spec.services[0]!.backendPolicy.loadBalancer as { type: string }).type = 'Maglev'; })],
  ];
  for (const [what, value] of bad) assert.equal(check(value), false, what);
});
