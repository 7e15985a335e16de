import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/**
 * SCHEMA_DIR is the folder holding the JSON Schemas. Compiled code lives in dist/schemas/, the
 * schemas themselves stay in schemas/ at the package root, so both layouts resolve to it.
 */
export const SCHEMA_DIR = (() => {
  const here = path.dirname(fileURLToPath(import.meta.url));
  return path.basename(path.dirname(here)) === 'dist' ? path.resolve(here, '..', '..', 'schemas') : here;
})();

const cache = new Map<string, unknown>();

/** loadSchema reads `schemas/<name>.schema.json` once per process. */
export function loadSchema(name: string): unknown {
  let schema = cache.get(name);
  if (schema === undefined) {
    schema = JSON.parse(readFileSync(path.join(SCHEMA_DIR, `${name}.schema.json`), 'utf8')) as unknown;
    cache.set(name, schema);
  }
  return schema;
}
