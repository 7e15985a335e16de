/**
 * Writes dist/schemas/generated/bundle-validate.js as the generated source itself. The committed
 * schemas/generated/bundle-validate.ts is plain JavaScript (ajv's standalone code, `@ts-nocheck`):
 * tsc re-prints it with one line and one indentation level per nested block, 758 KB for the
 * 278 KB written, and every proxy holds its module's source text in its heap (V8 keeps it for
 * lazy compilation): 0.46 MiB for whitespace (BENCHMARKS.md, Data plane: RSS with a 10,000-route
 * bundle). `npm run build` runs this after tsc; a plain `tsc` leaves tsc's copy, which works the
 * same. Usage: node scripts/copy-bundle-validator.mjs
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const from = path.join(ROOT, 'schemas', 'generated', 'bundle-validate.ts');
const to = path.join(ROOT, 'dist', 'schemas', 'generated', 'bundle-validate.js');

const text = await readFile(from, 'utf8');
if (!text.includes('// @ts-nocheck')) throw new Error(`${from}: expected generated JavaScript marked @ts-nocheck`);
await writeFile(`${to}.tmp`, text);
await rename(`${to}.tmp`, to);
