/**
 * validate: the third pass. Checks each document against its kind's JSON Schema
 * (schemas/<kind>.schema.json, draft 2020-12, ajv) and maps every schema error back to the YAML
 * node it is about: an unknown field to its key, a missing field to the object that should hold
 * it, a bad value to the value. Schema annotations choose the code: `x-weft-code` marks the
 * definitions with their own diagnostic (durations WFT304, paths WFT305, names WFT306) and
 * `x-weft-message` gives the message for rules whose ajv wording would mean nothing to a user.
 */
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import formats from 'ajv-formats';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { loadSchema, SCHEMA_DIR } from '../schemas/index.js';
import { report } from './diagnostics.js';
import { didYouMean } from './did-you-mean.js';
import { escapePointer } from './parse.js';
import type { Code } from './codes.js';
import type { Kind, Resource } from './resources.js';
import type { ParsedTree, PassContext, RawDocument, ValidatedTree } from './types.js';

/**
 * AJV_OPTIONS are the ajv options every policy validator is made with: all errors (one run reports
 * everything), verbose (errors carry the failing value and their schema, which the messages
 * quote), strict schemas.
 */
export const AJV_OPTIONS = Object.freeze({ allErrors: true, verbose: true, strict: true, strictTypes: false, strictTuples: false, strictRequired: false });

/**
 * newAjv returns an Ajv set up for the policy schemas (options, the date-time format, Weft's
 * annotation keywords). `code` is passed through: scripts/generate-validators.mjs asks for the
 * generated source with it, so the validators it writes are the ones this module would compile.
 */
export function newAjv(code?: { source: true }): Ajv2020 {
  const a = new Ajv2020({ ...AJV_OPTIONS, ...(code ? { code } : {}) });
  formats.default(a, ['date-time']);
  a.addKeyword({ keyword: 'x-weft-code', schemaType: 'string' });
  a.addKeyword({ keyword: 'x-weft-message', schemaType: 'string' });
  return a;
}

const require = createRequire(import.meta.url);

/**
 * validatorKey is what a generated validator for `kind` was made from: the ajv version, the
 * options and the schema file's exact text, hashed. A generated validator is used only when its
 * recorded key equals this one; a schema edited without a rebuild is compiled at run time instead.
 */
export function validatorKey(kind: Kind): string {
  const version = (require('ajv/package.json') as { version: string }).version;
  const text = readFileSync(path.join(SCHEMA_DIR, `${kind.toLowerCase()}.schema.json`), 'utf8');
  return createHash('sha256').update(`${version}\n${JSON.stringify(AJV_OPTIONS)}\n${text}`).digest('hex');
}

/** GENERATED_VALIDATORS is where `npm run build` writes the validators' code, next to this module's folder in dist/. */
export const GENERATED_VALIDATORS = '../schemas/generated/validators.cjs';

type Generated = { keys: Record<string, string> } & Record<string, ValidateFunction | undefined>;
let generated: Generated | null | undefined;

/**
 * generatedValidator is the build-time validator for `kind` (scripts/generate-validators.mjs:
 * ajv's standalone code for the same schema and options), or null when there is none or it was
 * made from another schema text, ajv version or options.
 */
function generatedValidator(kind: Kind): ValidateFunction | null {
  if (generated === undefined) {
    try {
      generated = require(GENERATED_VALIDATORS) as Generated;
    } catch {
      generated = null;
    }
  }
  const fn = generated?.[kind];
  return fn && generated?.keys[kind] === validatorKey(kind) ? fn : null;
}

let ajv: Ajv2020 | null = null;
const validators = new Map<Kind, ValidateFunction>();
const origins = new Map<Kind, 'generated' | 'compiled'>();

/**
 * validatorFor returns a kind's validator, made once per process: the one generated at build
 * time when it is current (compiling the nine schemas took about 0.3 s of every cold compile),
 * else compiled from the schema now. Both are ajv's code for the same schema and options, so
 * they report the same errors.
 */
export function validatorFor(kind: Kind): ValidateFunction {
  let v = validators.get(kind);
  if (!v) {
    v = generatedValidator(kind) ?? undefined;
    origins.set(kind, v ? 'generated' : 'compiled');
    if (!v) {
      ajv ??= newAjv();
      v = ajv.compile(loadSchema(kind.toLowerCase()) as object);
    }
    validators.set(kind, v);
  }
  return v;
}

/** validatorOrigin says where `kind`'s validator came from (tests check the build made current ones). */
export function validatorOrigin(kind: Kind): 'generated' | 'compiled' {
  validatorFor(kind);
  return origins.get(kind) ?? 'compiled';
}

/**
 * validate returns the documents that pass their schema as typed Resources (metadata.namespace
 * filled with `default` when absent), in input order, and reports every schema error of every
 * document. Never throws on any document value.
 */
export function validate(input: ParsedTree, ctx: PassContext): ValidatedTree {
  const resources: Resource[] = [];
  const memo = ctx.options.memo;
  for (const doc of input.documents) {
    // A document parsed in an earlier compile is the same object, validated then.
    const kept = memo?.document(doc);
    if (kept) {
      ctx.diagnostics.push(...kept.diagnostics);
      if (kept.resource) resources.push(kept.resource);
      continue;
    }
    const before = ctx.diagnostics.length;
    const r = validateDocument(doc, ctx);
    memo?.setDocument(doc, { resource: r, diagnostics: ctx.diagnostics.slice(before) });
    if (r) resources.push(r);
  }
  return { resources };
}

type Obj = Record<string, unknown>;
type ResourceRef = { kind: string; metadata: { namespace: string; name: string } } | undefined;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** MAX_MATCHES_PER_ROUTE is the Gateway API limit on matches across all rules of one route. */
const MAX_MATCHES_PER_ROUTE = 128;

function validateDocument(doc: RawDocument, ctx: PassContext): Resource | null {
  const value = doc.value as Obj;
  const kind = value.kind as Kind;
  const metadata = isObj(value.metadata) ? value.metadata : {};
  // Findings name the resource when it has a usable name.
  const resourceRef =
    typeof metadata.name === 'string' && metadata.name !== ''
      ? { kind, metadata: { namespace: typeof metadata.namespace === 'string' ? metadata.namespace : 'default', name: metadata.name } }
      : undefined;
  const check = validatorFor(kind);
  const before = ctx.diagnostics.length;
  if (!check(value)) mapErrors(check.errors ?? [], doc, resourceRef, ctx);
  if (ctx.diagnostics.length === before) extraChecks(doc, resourceRef, ctx);
  if (ctx.diagnostics.length !== before) return null;
  const meta = { ...metadata, namespace: typeof metadata.namespace === 'string' ? metadata.namespace : 'default' };
  return { apiVersion: value.apiVersion, kind, metadata: meta, spec: value.spec, origin: doc.origin } as Resource;
}

/** extraChecks covers the Gateway API rules a JSON Schema cannot say (CEL rules upstream). */
function extraChecks(doc: RawDocument, resource: ResourceRef, ctx: PassContext): void {
  const v = doc.value as { kind: string; spec?: { rules?: { matches?: unknown[]; filters?: unknown[]; backendRefs?: { filters?: unknown[] }[] }[] } };
  if (v.kind !== 'HTTPRoute' && v.kind !== 'GRPCRoute') return;
  const rules = v.spec?.rules ?? [];
  const total = rules.reduce((n, r) => n + (r.matches?.length ?? 0), 0);
  if (total > MAX_MATCHES_PER_ROUTE) {
    report(ctx, 'WFT301', `spec.rules has ${total} matches in all; Gateway API allows at most ${MAX_MATCHES_PER_ROUTE} per route`, { origin: doc.origin, pointer: '/spec/rules', key: true, resource }, { hint: 'split the route in two' });
  }
  rules.forEach((rule, i) => {
    const lists: [string, unknown[] | undefined][] = [[`/spec/rules/${i}/filters`, rule.filters]];
    rule.backendRefs?.forEach((b, j) => lists.push([`/spec/rules/${i}/backendRefs/${j}/filters`, b.filters]));
    for (const [base, filters] of lists) {
      filters?.forEach((f, k) => {
        const fr = (f as { requestMirror?: { fraction?: { numerator: number; denominator?: number } } }).requestMirror?.fraction;
        if (fr && fr.numerator > (fr.denominator ?? 100)) {
          const p = `${base}/${k}/requestMirror/fraction`;
          report(ctx, 'WFT301', `${display(p)}: numerator ${fr.numerator} is larger than denominator ${fr.denominator ?? 100}`, { origin: doc.origin, pointer: p, resource });
        }
      });
    }
  });
}

/** display turns a JSON Pointer into the dotted form users read: spec.rules[0].matches. */
export function display(pointer: string): string {
  let out = '';
  for (const raw of pointer.split('/').slice(1)) {
    const t = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (/^(0|[1-9][0-9]*)$/.test(t)) out += `[${t}]`;
    else out += out === '' ? t : /^[A-Za-z_$][\w$-]*$/.test(t) ? `.${t}` : `[${JSON.stringify(t)}]`;
  }
  return out === '' ? 'the document' : out;
}

function short(v: unknown): string {
  const s = JSON.stringify(v);
  if (s === undefined) return String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'number') return !Number.isFinite(v) ? String(v) : Number.isInteger(v) ? 'an integer' : 'a number';
  return `a ${typeof v}`;
}

const TYPE_WORDS: Record<string, string> = { object: 'a mapping', array: 'a list', string: 'a string', integer: 'an integer', number: 'a number', boolean: 'true or false', null: 'null' };

function pathProblem(value: unknown): string {
  if (typeof value !== 'string') return `must be a string, not ${typeName(value)}`;
  if (value === '') return 'must not be empty';
  if (!value.startsWith('/')) return 'must start with /';
  if (value.includes('//')) return 'must not contain //';
  if (/\/\.\.?(\/|$)/.test(value)) return 'must not contain /./ or /../, or end in /. or /..';
  if (/%2f/i.test(value)) return 'must not contain %2f (an encoded /)';
  if (value.includes('#')) return 'must not contain #';
  if (value.length > 1024) return 'must be at most 1024 characters';
  return 'has a character a path may not hold unencoded (allowed: letters, digits and -._~!$&\'()*+,;=:@/ and %XX)';
}

function nameProblem(value: unknown, label: boolean): string {
  if (typeof value !== 'string') return `must be a string, not ${typeName(value)}`;
  if (value === '') return 'must not be empty';
  if (value.length > (label ? 63 : 253)) return `must be at most ${label ? 63 : 253} characters`;
  if (/[A-Z]/.test(value)) return 'must be lower case';
  if (label && value.includes('.')) return 'must not contain dots (it becomes one label of a host name)';
  return 'may hold only a-z, 0-9, - (and . between labels), starting and ending with a letter or digit';
}

interface Finding {
  code: Code;
  pointer: string;
  key: boolean;
  message: string;
  hint?: string;
}

/** toFinding maps one ajv error to a finding, or null for errors that only echo others. */
function toFinding(e: ErrorObject, root: unknown): Finding | null {
  const parent = e.parentSchema ?? {};
  const at = e.instancePath;
  const where = display(at);
  const params = e.params as Record<string, unknown>;
  // `if` only says "then/else failed": the failure itself is its own error.
  if (e.keyword === 'if') return null;
  const coded = parent['x-weft-code'] as Code | undefined;
  if (coded === 'WFT304') {
    return { code: coded, pointer: at, key: false, message: `${where}: ${short(e.data)} is not a Gateway API duration (GEP-2257)`, hint: 'write up to four number+unit pairs with units h, m, s or ms, e.g. 30s, 250ms, 1m30s' };
  }
  if (coded === 'WFT305') return { code: coded, pointer: at, key: false, message: `${where}: ${short(e.data)} is not a valid path: it ${pathProblem(e.data)}` };
  if (coded === 'WFT306') {
    const label = parent.maxLength === 63;
    return { code: coded, pointer: at, key: false, message: `${where}: ${short(e.data)} is not a valid ${label ? 'DNS-1123 label' : 'DNS-1123 subdomain'}: it ${nameProblem(e.data, label)}` };
  }
  const custom = parent['x-weft-message'] as string | undefined;
  switch (e.keyword) {
    case 'additionalProperties': {
      const field = String(params.additionalProperty);
      const known = isObj(parent.properties) ? Object.keys(parent.properties) : [];
      const guess = didYouMean(field, known);
      return {
        code: 'WFT302',
        pointer: `${at}/${escapePointer(field)}`,
        key: true,
        message: `unknown field "${field}" in ${where}`,
        hint:
          field === '<<'
            ? 'YAML merge keys (<<) are not supported: write the fields out'
            : guess
              ? `did you mean "${guess}"?`
              : known.length > 0
                ? `known fields: ${known.join(', ')}`
                : 'remove it',
      };
    }
    case 'required':
      return { code: 'WFT303', pointer: at, key: true, message: `${where} is missing the required field "${String(params.missingProperty)}"` };
    case 'minProperties':
      return { code: 'WFT303', pointer: at, key: true, message: `${where}: ${custom ?? 'must not be empty'}` };
    case 'false schema': {
      const field = at.slice(at.lastIndexOf('/') + 1).replace(/~1/g, '/').replace(/~0/g, '~');
      const obj = getAt(root, at.slice(0, at.lastIndexOf('/')));
      const type = isObj(obj) && typeof obj.type === 'string' ? ` with type ${obj.type}` : '';
      return { code: 'WFT301', pointer: at, key: true, message: `${display(at.slice(0, at.lastIndexOf('/')))}: "${field}" does not belong here${type}`, hint: 'remove it, or change the type' };
    }
    case 'type': {
      const want = String(params.type).split(',').map((t) => TYPE_WORDS[t] ?? t).join(' or ');
      return { code: 'WFT301', pointer: at, key: false, message: `${where} must be ${want}, not ${typeName(e.data)}` };
    }
    case 'enum': {
      const allowed = (params.allowedValues as unknown[]) ?? [];
      const guess = typeof e.data === 'string' ? didYouMean(e.data, allowed.map(String)) : null;
      return {
        code: 'WFT301',
        pointer: at,
        key: false,
        message: `${where}: ${short(e.data)} is not one of ${allowed.map((a) => short(a)).join(', ')}`,
        ...(guess ? { hint: `did you mean "${guess}"?` } : {}),
      };
    }
    case 'const':
      return { code: 'WFT301', pointer: at, key: false, message: `${where} must be ${short(params.allowedValue)}` };
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return { code: 'WFT301', pointer: at, key: false, message: `${where}: ${short(e.data)} is out of range (must be ${String(params.comparison)} ${String(params.limit)})` };
    case 'maxItems':
      return { code: 'WFT301', pointer: at, key: true, message: `${where} has ${Array.isArray(e.data) ? e.data.length : '?'} entries; at most ${String(params.limit)} are allowed` };
    case 'minItems':
      return { code: 'WFT301', pointer: at, key: true, message: `${where} needs at least ${String(params.limit)} ${params.limit === 1 ? 'entry' : 'entries'}` };
    case 'maxLength':
    case 'minLength':
      return { code: 'WFT301', pointer: at, key: false, message: `${where} must be ${e.keyword === 'maxLength' ? 'at most' : 'at least'} ${String(params.limit)} characters long` };
    case 'pattern': {
      const what = typeof parent.description === 'string' ? parent.description : `text matching ${String(params.pattern)}`;
      return { code: 'WFT301', pointer: at, key: false, message: `${where}: ${short(e.data)} is not ${what}` };
    }
    case 'format':
      return { code: 'WFT301', pointer: at, key: false, message: `${where}: ${short(e.data)} is not a valid ${String(params.format)}` };
    case 'not':
    case 'maxProperties':
      return { code: 'WFT301', pointer: at, key: true, message: `${where}: ${custom ?? e.message ?? 'is invalid'}` };
    default:
      return { code: 'WFT301', pointer: at, key: false, message: `${where} ${e.message ?? 'is invalid'}` };
  }
}

function getAt(root: unknown, pointer: string): unknown {
  let cur = root;
  for (const raw of pointer.split('/').slice(1)) {
    const t = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(cur)) cur = cur[Number(t)];
    else if (isObj(cur) && Object.hasOwn(cur, t)) cur = cur[t];
    else return undefined;
  }
  return cur;
}

function mapErrors(errors: ErrorObject[], doc: RawDocument, resource: ResourceRef, ctx: PassContext): void {
  const seen = new Set<string>();
  const findings: Finding[] = [];
  for (const e of errors) {
    const f = toFinding(e, doc.value);
    if (!f) continue;
    // One finding per node and code: a bad duration fails both its pattern and its length.
    const id = `${f.code}\0${f.pointer}\0${f.code === 'WFT301' || f.code === 'WFT303' || f.code === 'WFT302' ? f.message : ''}`;
    if (seen.has(id)) continue;
    seen.add(id);
    findings.push(f);
  }
  // A node with a specific finding (duration, path, name) needs no generic one as well.
  const specific = new Set(findings.filter((f) => f.code === 'WFT304' || f.code === 'WFT305' || f.code === 'WFT306').map((f) => f.pointer));
  for (const f of findings) {
    if (f.code === 'WFT301' && specific.has(f.pointer)) continue;
    report(ctx, f.code, f.message, { origin: doc.origin, pointer: f.pointer, key: f.key, resource }, f.hint !== undefined ? { hint: f.hint } : {});
  }
}
