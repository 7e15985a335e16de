/**
 * parse: the second pass. Turns YAML files into documents with source positions, and hands CUE
 * files to compiler/cue.ts. Values are built from js-yaml's event stream (not `yaml.load`) so that
 * every key and value keeps its offset, a duplicate key is reported rather than thrown, and the
 * features Weft refuses (custom tags, non-string keys, alias bombs) are findings, not crashes.
 */
import * as yaml from 'js-yaml';
import { report } from './diagnostics.js';
import { didYouMean } from './did-you-mean.js';
import { API_VERSIONS, type Kind, type Origin } from './resources.js';
import { parseCue } from './cue.js';
import type { LoadedTree, ParsedTree, PassContext, RawDocument, SourceFile } from './types.js';
import { LazyPositions, LineIndex, OffsetPositions } from './positions.js';
import { CompileMemo } from './memo.js';

/** MAX_DEPTH bounds collection nesting; policies need a dozen levels at most. */
const MAX_DEPTH = 64;
/** MAX_ALIAS_NODES bounds what aliases may expand to in one document (billion-laughs guard). */
const MAX_ALIAS_NODES = 10_000;

const KINDS = Object.keys(API_VERSIONS) as Kind[];

/**
 * parse returns one RawDocument per non-empty YAML document (and per CUE-exported resource) that
 * is shaped like a resource: a mapping whose apiVersion and kind are ones Weft knows, with a
 * metadata mapping. Everything else is reported (WFT2xx) and left out. Documents come in file
 * order, then document order. Never throws on any input text.
 */
export async function parse(input: LoadedTree, ctx: PassContext): Promise<ParsedTree> {
  sharedStrings = new Map();
  const memo = ctx.options.memo;
  const documents: RawDocument[] = [];
  const cueFiles: SourceFile[] = [];
  for (const file of input.files) {
    if (file.path.endsWith('.cue')) {
      if (file.text !== null) cueFiles.push(file);
      continue;
    }
    // A file's documents and findings depend on its path and bytes only: keyed by git's blob id.
    const key = memo && file.blob !== undefined ? memo.keyOf(file as SourceFile & { blob: string }) : null;
    const kept = key !== null ? memo?.file(key) : undefined;
    if (kept) {
      documents.push(...kept.documents);
      ctx.diagnostics.push(...kept.diagnostics);
      continue;
    }
    if (file.text === null) continue;
    const before = ctx.diagnostics.length;
    const docs = parseYaml(file.path, file.text, ctx).filter((d) => checkResource(d, ctx));
    if (key !== null) memo?.setFile(key, { documents: docs, diagnostics: ctx.diagnostics.slice(before) });
    documents.push(...docs);
  }
  if (cueFiles.length > 0) {
    // CUE files are evaluated together (a package spans files): one key for all of them.
    const key = memo && cueFiles.every((f) => f.blob !== undefined) ? `cue\n${cueFiles.map((f) => CompileMemo.fileKey(f.path, f.blob ?? '')).join('\n')}` : null;
    const kept = key !== null ? memo?.file(key) : undefined;
    if (kept) {
      documents.push(...kept.documents);
      ctx.diagnostics.push(...kept.diagnostics);
    } else {
      const before = ctx.diagnostics.length;
      const docs = (await parseCue(cueFiles, ctx)).filter((d) => checkResource(d, ctx));
      if (key !== null) memo?.setFile(key, { documents: docs, diagnostics: ctx.diagnostics.slice(before) });
      documents.push(...docs);
    }
  }
  sharedStrings = new Map();
  // CUE documents join in path order so the output does not depend on file type.
  documents.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.document - b.document));
  return { documents };
}

// ---- positions ----------------------------------------------------------------------------

/** escapePointer escapes one JSON Pointer reference token (RFC 6901). */
export function escapePointer(token: string): string {
  if (token.indexOf('~') < 0 && token.indexOf('/') < 0) return token;
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}

// ---- YAML ---------------------------------------------------------------------------------

const { EVENT_ID, SCALAR_STYLE } = yaml;
const CORE_IMPLICIT = [yaml.nullCoreTag, yaml.boolCoreTag, yaml.intCoreTag, yaml.floatCoreTag];
/**
 * The core tags a plain scalar may resolve to, by its first character (as js-yaml's own schema
 * looks them up: each tag lists the characters its values can start with). Most scalars in a
 * policy are names and paths, which no core tag takes, so they skip the four resolvers.
 */
const IMPLICIT_BY_FIRST_CHAR = new Map<string, yaml.ScalarTagDefinition<unknown>[]>();
const IMPLICIT_ANY_FIRST_CHAR = CORE_IMPLICIT.filter((t) => !t.implicitFirstChars);
for (const tag of CORE_IMPLICIT) {
  for (const c of tag.implicitFirstChars ?? []) IMPLICIT_BY_FIRST_CHAR.set(c, []);
}
for (const [c, list] of IMPLICIT_BY_FIRST_CHAR) {
  for (const tag of CORE_IMPLICIT) if (!tag.implicitFirstChars || tag.implicitFirstChars.includes(c)) list.push(tag);
}
const EXPLICIT: Record<string, yaml.ScalarTagDefinition<unknown> | 'str' | 'seq' | 'map'> = {
  '!': 'str',
  str: 'str',
  seq: 'seq',
  map: 'map',
  null: yaml.nullCoreTag,
  bool: yaml.boolCoreTag,
  int: yaml.intCoreTag,
  float: yaml.floatCoreTag,
};

/** standardTag names a YAML core tag written as `!!x`, `!<tag:yaml.org,2002:x>` or `!`; else null. */
function standardTag(tag: string): string | null {
  if (tag === '!') return '!';
  const m = /^(?:!!|!<tag:yaml\.org,2002:)([a-z]+)>?$/.exec(tag);
  if (!m || (tag.startsWith('!<') && !tag.endsWith('>'))) return null;
  return m[1] !== undefined && m[1] in EXPLICIT ? m[1] : null;
}

class Refused extends Error {}


/**
 * Which positions a DocBuilder records. A compile needs the positions of a few nodes of every
 * document (lower's source map names each route rule and match; the common findings point at
 * metadata.name, spec or targetRefs) and of any node only when a finding is about it, which is
 * rare. So the first parse records just those (EAGER), and a document's complete map is built on
 * first demand by parsing its text again (FULL; see LazyPositions). Recording every node made a
 * pointer string per node: a large share of parse time, and most of the memory a long-lived
 * compiler (the controller's memo) kept per file.
 *
 * A state says where a node sits in the EAGER pattern; NONE: neither it nor anything under it is
 * recorded. Recorded pointers: "", /spec, /metadata, /metadata/name, /spec/targetRefs,
 * /spec/rules/N, /spec/rules/N/matches/M (and /spec/rules).
 */
const enum At {
  FULL = -1,
  NONE = 0,
  ROOT,
  SPEC,
  META,
  RULES,
  RULE,
  MATCHES,
  LEAF,
}

/** keyState is the state of the value under `key` of a mapping in state `at`. */
function keyState(at: At, key: string): At {
  switch (at) {
    case At.FULL:
      return At.FULL;
    case At.ROOT:
      return key === 'spec' ? At.SPEC : key === 'metadata' ? At.META : At.NONE;
    case At.SPEC:
      return key === 'rules' ? At.RULES : key === 'targetRefs' ? At.LEAF : At.NONE;
    case At.META:
      return key === 'name' ? At.LEAF : At.NONE;
    case At.RULE:
      return key === 'matches' ? At.MATCHES : At.NONE;
    default:
      return At.NONE;
  }
}

/** itemState is the state of the items of a sequence in state `at`. */
function itemState(at: At): At {
  return at === At.FULL ? At.FULL : at === At.RULES ? At.RULE : at === At.MATCHES ? At.LEAF : At.NONE;
}

/**
 * Short strings are shared: a repository repeats the same values in every file (apiVersion,
 * kind, namespaces, path types, durations, Service names in references) and the same pointers in
 * every document, and a parse result is kept for as long as its file is unchanged (compiler/memo.ts),
 * so one copy of each instead of one per occurrence is a large part of the memo's memory. The
 * table lives for one parse pass.
 */
let sharedStrings = new Map<string, string>();
const MAX_SHARED_LENGTH = 64;

function shared(s: string): string {
  if (s.length > MAX_SHARED_LENGTH) return s;
  const kept = sharedStrings.get(s);
  if (kept !== undefined) return kept;
  sharedStrings.set(s, s);
  return s;
}

/** keySpan is where a mapping key was written, quotes included. */
function keySpan(k: yaml.ScalarEvent): [number, number] {
  return k.style === SCALAR_STYLE.SINGLE_QUOTED || k.style === SCALAR_STYLE.DOUBLE_QUOTED ? [k.valueStart - 1, k.valueEnd + 1] : [k.valueStart, k.valueEnd];
}

/** DocBuilder walks the events of one document, building its value and its position map (all of it, or the EAGER part). */
class DocBuilder {
  readonly positions: OffsetPositions;
  private readonly anchors = new Map<string, { value: unknown; size: number }>();
  private aliasNodes = 0;
  /** Above 0 while building a duplicate key's value, whose positions are not kept. */
  private muted = 0;
  end = -1;
  first = -1;
  /**
   * Where the node last built started and how many nodes it holds (itself included; aliases count
   * what they expand to): set by each node builder before it returns its value, read by its caller
   * at once. Kept here rather than returned with the value: one object per node less.
   */
  private builtStart = -1;
  private builtSize = 0;

  constructor(
    private readonly events: yaml.Event[],
    public i: number,
    private readonly src: string,
    private readonly lines: LineIndex,
    private readonly file: string,
    private readonly ctx: PassContext,
  ) {
    this.positions = new OffsetPositions(lines);
  }

  private next(): yaml.Event {
    const e = this.events[this.i++];
    if (!e) throw new Refused('unexpected end of YAML events');
    return e;
  }

  private touch(start: number, end: number): void {
    if (start >= 0 && (this.first < 0 || start < this.first)) this.first = start;
    if (end > this.end) this.end = end;
  }

  private refuse(message: string, start: number, end: number): never {
    const s = start >= 0 ? start : Math.max(0, this.end);
    report(this.ctx, 'WFT206', message, { file: this.file, span: this.lines.span(s, Math.max(s, end)) }, { hint: 'write the value out plainly' });
    throw new Refused(message);
  }

  /** node builds the node starting at the next event; `pointer` is where it sits, its key at keyStart..keyEnd (-1: none). */
  node(pointer: string | null, at: At, keyStart = -1, keyEnd = -1): unknown {
    const e = this.next();
    let built: unknown;
    let anchorStart = -1;
    let anchorEnd = -1;
    switch (e.type) {
      case EVENT_ID.SCALAR:
        built = this.scalar(e);
        ({ anchorStart, anchorEnd } = e);
        break;
      case EVENT_ID.SEQUENCE:
        built = this.sequence(e, pointer, at);
        ({ anchorStart, anchorEnd } = e);
        break;
      case EVENT_ID.MAPPING:
        built = this.mapping(e, pointer, at);
        ({ anchorStart, anchorEnd } = e);
        break;
      case EVENT_ID.ALIAS:
        built = this.alias(e);
        break;
      default:
        throw new Refused(`unexpected YAML event ${e.type}`);
    }
    const start = this.builtStart >= 0 ? this.builtStart : Math.max(0, this.end);
    if (this.muted === 0 && pointer !== null) this.positions.record(pointer, start, Math.max(start, this.end), keyStart, keyEnd);
    if (anchorStart >= 0) this.anchors.set(this.src.slice(anchorStart, anchorEnd), { value: built, size: this.builtSize });
    return built;
  }

  private checkTag(tagStart: number, tagEnd: number, want: 'str' | 'seq' | 'map' | 'scalar'): string | null {
    if (tagStart < 0) return null;
    const tag = this.src.slice(tagStart, tagEnd);
    const std = standardTag(tag);
    const ok = std !== null && (want === 'scalar' ? std !== 'seq' && std !== 'map' : std === want || std === '!');
    if (!ok) this.refuse(`the YAML tag ${tag} is not supported`, tagStart, tagEnd);
    return std;
  }

  private scalar(e: yaml.ScalarEvent): unknown {
    const tag = this.checkTag(e.tagStart, e.tagEnd, 'scalar');
    const present = e.valueStart >= 0;
    let start = present ? e.valueStart : -1;
    let end = present ? e.valueEnd : -1;
    if (present && (e.style === SCALAR_STYLE.SINGLE_QUOTED || e.style === SCALAR_STYLE.DOUBLE_QUOTED)) {
      start -= 1;
      end += 1;
    }
    if (present) this.touch(start, end);
    else if (e.tagStart >= 0) this.touch(e.tagStart, e.tagEnd);
    const source = present ? yaml.getScalarValue(this.src, e) : '';
    let value: unknown = source;
    if (tag !== null && tag !== '!' && tag !== 'str') {
      const def = EXPLICIT[tag];
      const resolved = typeof def === 'object' ? def.resolve(source, true, def.tagName) : yaml.NOT_RESOLVED;
      if (resolved === yaml.NOT_RESOLVED) this.refuse(`"${source}" cannot be read as !!${tag}`, e.tagStart, e.tagEnd);
      value = resolved;
    } else if (tag === null && e.style === SCALAR_STYLE.PLAIN) {
      value = source;
      for (const def of IMPLICIT_BY_FIRST_CHAR.get(source.charAt(0)) ?? IMPLICIT_ANY_FIRST_CHAR) {
        const r: unknown = def.resolve(source, false, def.tagName);
        if (r !== yaml.NOT_RESOLVED) {
          value = r;
          break;
        }
      }
    }
    if (typeof value === 'bigint') value = Number(value);
    else if (typeof value === 'string') value = shared(value);
    this.builtStart = start >= 0 ? start : e.tagStart;
    this.builtSize = 1;
    return value;
  }

  private sequence(e: yaml.SequenceEvent, pointer: string | null, at: At): unknown {
    this.checkTag(e.tagStart, e.tagEnd, 'seq');
    this.touch(e.start, e.start + 1);
    const items: unknown[] = [];
    let size = 1;
    while (this.events[this.i]?.type !== EVENT_ID.POP) {
      items.push(this.node(pointer === null || itemState(at) === At.NONE ? null : shared(`${pointer}/${items.length}`), itemState(at)));
      size += this.builtSize;
    }
    this.i++;
    this.builtStart = e.start;
    this.builtSize = size;
    return items;
  }

  private mapping(e: yaml.MappingEvent, pointer: string | null, at: At): unknown {
    this.checkTag(e.tagStart, e.tagEnd, 'map');
    this.touch(e.start, e.start + 1);
    const obj: Record<string, unknown> = {};
    const firstKey = this.i;
    let size = 1;
    while (this.events[this.i]?.type !== EVENT_ID.POP) {
      const k = this.events[this.i];
      if (k?.type !== EVENT_ID.SCALAR) {
        const at = k && 'start' in k ? k.start : k && 'anchorStart' in k ? k.anchorStart : -1;
        this.refuse('a mapping key must be a plain string, not a collection or alias', at, at + 1);
      }
      this.i++;
      this.checkTag(k.tagStart, k.tagEnd, 'str');
      if (k.valueStart < 0) this.refuse('a mapping key must not be empty', k.tagStart >= 0 ? k.tagStart : this.end, this.end + 1);
      const quoted = k.style === SCALAR_STYLE.SINGLE_QUOTED || k.style === SCALAR_STYLE.DOUBLE_QUOTED;
      const ks = quoted ? k.valueStart - 1 : k.valueStart;
      const ke = quoted ? k.valueEnd + 1 : k.valueEnd;
      this.touch(ks, ke);
      const name = yaml.getScalarValue(this.src, k);
      // The object itself says whether the key was seen (a key named __proto__ is an own property too).
      if (Object.hasOwn(obj, name)) {
        const firstLine = this.lines.pos(this.keyStart(firstKey, name)).line;
        report(this.ctx, 'WFT202', `duplicate key "${name}" (first at line ${firstLine}); YAML would keep only one`, { file: this.file, span: this.lines.span(ks, ke) }, {
          hint: 'remove or merge the repeated key',
        });
        // Build and drop the value: its events must be consumed, and its positions must not
        // overwrite those of the first occurrence.
        this.muted++;
        try {
          this.node(null, At.NONE, ks, ke);
        } finally {
          this.muted--;
        }
        continue;
      }
      const state = keyState(at, name);
      const value = this.node(pointer === null || state === At.NONE ? null : shared(`${pointer}/${escapePointer(name)}`), state, ks, ke);
      // A key named __proto__ must become data, never the object's prototype.
      if (name === '__proto__') Object.defineProperty(obj, name, { value, enumerable: true, writable: true, configurable: true });
      else obj[name] = value;
      size += this.builtSize + 1;
    }
    this.i++;
    this.builtStart = e.start;
    this.builtSize = size;
    return obj;
  }

  /**
   * keyStart is where the first key `name` of the mapping whose first key event is at `from` was
   * written. Only a duplicate key asks, so the mapping's events are searched again rather than
   * every mapping keeping a table of its keys.
   */
  private keyStart(from: number, name: string): number {
    let j = from;
    for (;;) {
      const k = this.events[j];
      if (k?.type !== EVENT_ID.SCALAR) return -1;
      if (yaml.getScalarValue(this.src, k) === name) return keySpan(k)[0];
      // Step over the key, then over its value (a collection up to its matching POP).
      j++;
      let depth = 0;
      do {
        const t = this.events[j++]?.type;
        if (t === undefined) return -1;
        if (t === EVENT_ID.MAPPING || t === EVENT_ID.SEQUENCE) depth++;
        else if (t === EVENT_ID.POP) depth--;
      } while (depth > 0);
    }
  }

  private alias(e: yaml.AliasEvent): unknown {
    const name = this.src.slice(e.anchorStart, e.anchorEnd);
    this.touch(e.anchorStart - 1, e.anchorEnd);
    const target = this.anchors.get(name);
    if (!target) this.refuse(`the alias *${name} refers to no anchor defined before it`, e.anchorStart - 1, e.anchorEnd);
    this.aliasNodes += target.size;
    if (this.aliasNodes > MAX_ALIAS_NODES) {
      this.refuse(`aliases in this document expand to more than ${MAX_ALIAS_NODES} nodes`, e.anchorStart - 1, e.anchorEnd);
    }
    // A copy, so later passes can never see one object in two places of the tree.
    this.builtStart = e.anchorStart - 1;
    this.builtSize = target.size;
    return structuredClone(target.value);
  }
}

/**
 * parseYaml parses one YAML text into its non-empty documents, with positions. A syntax error is
 * one WFT201 (the parser cannot continue past it); the file's other documents are then parsed on
 * their own, so their findings are not lost. A document using a refused feature is reported and
 * dropped. Never throws.
 */
export function parseYaml(file: string, text: string, ctx: PassContext): RawDocument[] {
  const before = ctx.diagnostics.length;
  const docs = parseYamlPart(file, text, 0, ctx);
  const failed = ctx.diagnostics.slice(before).find((d) => d.code === 'WFT201' || (d.code === 'WFT206' && d.message.startsWith('YAML nesting')));
  return failed ? recover(file, text, failed.line, ctx) : docs;
}

/** parseYamlPart parses a whole text, or one part of it, reporting a syntax error as WFT201. */
function parseYamlPart(file: string, text: string, firstIndex: number, ctx: PassContext): RawDocument[] {
  try {
    return documentsOf(file, text, yaml.parseEvents(text, { filename: file, maxDepth: MAX_DEPTH }), firstIndex, ctx);
  } catch (err) {
    const mark = err instanceof yaml.YAMLException ? err.mark : undefined;
    const reason = err instanceof yaml.YAMLException ? err.reason : err instanceof Error ? err.message : String(err);
    const line = mark ? mark.line + 1 : 1;
    const column = mark ? mark.column + 1 : 1;
    const depth = /depth/i.test(reason);
    report(ctx, depth ? 'WFT206' : 'WFT201', depth ? `YAML nesting is deeper than ${MAX_DEPTH} levels` : `YAML syntax error: ${reason}`, {
      file,
      span: { line, column, endLine: line, endColumn: column + 1 },
    });
    return [];
  }
}

/** DOCUMENT_MARKER matches a line that starts (`---`) or ends (`...`) a YAML document. */
const DOCUMENT_MARKER = /^(?:---(?:[ \t].*)?|\.\.\.[ \t]*)$/;

/**
 * recover parses each `---`-separated part of a file that has a syntax error, except the part
 * holding the error (already reported). Each part is padded with the lines before it, so
 * positions stay those of the file; a syntax error in another part is reported as well.
 */
function recover(file: string, text: string, errorLine: number, ctx: PassContext): RawDocument[] {
  const lines = text.split('\n');
  const starts = [0];
  lines.forEach((l, i) => {
    if (i > 0 && DOCUMENT_MARKER.test(l.replace(/\r$/, ''))) starts.push(i);
  });
  if (starts.length < 2) return [];
  const out: RawDocument[] = [];
  starts.forEach((from, k) => {
    const to = starts[k + 1] ?? lines.length;
    if (errorLine - 1 >= from && errorLine - 1 < to) return;
    const part = '\n'.repeat(from) + lines.slice(from, to).join('\n');
    out.push(...parseYamlPart(file, part, k, ctx));
  });
  return out;
}

/** documentsOf builds the documents of one event stream; `firstIndex` numbers the first one. */
function documentsOf(file: string, text: string, events: yaml.Event[], firstIndex: number, ctx: PassContext): RawDocument[] {
  const lines = new LineIndex(text);
  const source = new PositionSource(file, text, lines);
  const out: RawDocument[] = [];
  walkDocuments(file, text, lines, events, ctx, At.ROOT, (ordinal, b, value) => {
    const index = firstIndex + ordinal;
    const positions = new LazyPositions(b.positions, () => source.complete(ordinal));
    out.push({ file, document: index, value, origin: { file, document: index, span: lines.span(b.first, b.end), positions } });
  });
  return out;
}

/**
 * walkDocuments builds every document of an event stream, recording positions as `at` says, and
 * calls `found` with each one's ordinal (0-based among the stream's documents) that is not empty
 * and was not refused.
 */
function walkDocuments(file: string, text: string, lines: LineIndex, events: yaml.Event[], ctx: PassContext, at: At, found: (ordinal: number, b: DocBuilder, value: unknown) => void): void {
  let ordinal = -1;
  let i = 0;
  while (i < events.length) {
    const ev = events[i++];
    if (ev?.type !== EVENT_ID.DOCUMENT) continue;
    ordinal++;
    const b = new DocBuilder(events, i, text, lines, file, ctx);
    let value: unknown;
    let ok = true;
    try {
      value = b.node('', at);
    } catch (err) {
      if (!(err instanceof Refused)) throw err;
      ok = false;
    }
    // Skip to the end of this document (past a refused node's remaining events, too).
    let depth = 1;
    i = ok ? b.i : i;
    while (i < events.length && depth > 0) {
      const t = events[i++]?.type;
      if (t === EVENT_ID.POP) depth--;
      else if (t === EVENT_ID.DOCUMENT || t === EVENT_ID.MAPPING || t === EVENT_ID.SEQUENCE) depth++;
    }
    if (!ok || b.first < 0 || value === null || value === undefined) continue;
    found(ordinal, b, value);
  }
}

/**
 * PositionSource is what one parsed text keeps so that its documents' complete position maps can
 * be built when first asked for: the text and its line index. The first demand parses the text
 * again recording every node (findings from that parse were already reported and are dropped),
 * and keeps the maps of all its documents.
 */
class PositionSource {
  private all: (OffsetPositions | undefined)[] | null = null;

  constructor(
    private readonly file: string,
    private readonly text: string,
    private readonly lines: LineIndex,
  ) {}

  complete(ordinal: number): OffsetPositions {
    if (!this.all) {
      const all: (OffsetPositions | undefined)[] = [];
      const scratch: PassContext = { options: { dir: '' }, diagnostics: [], revision: null };
      try {
        const events = yaml.parseEvents(this.text, { filename: this.file, maxDepth: MAX_DEPTH });
        walkDocuments(this.file, this.text, this.lines, events, scratch, At.FULL, (k, b) => (all[k] = b.positions));
      } catch {
        // The same text parsed without error the first time: not reached.
      }
      this.all = all;
    }
    return this.all[ordinal] ?? new OffsetPositions(this.lines);
  }
}

// ---- resource shape -----------------------------------------------------------------------

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function place(origin: Origin, pointer = '', key = false): { origin: Origin; pointer: string; key: boolean } {
  return { origin, pointer, key };
}

/**
 * checkResource reports a document that cannot be a Weft resource (WFT203/204/205) and returns
 * whether it can go on to schema validation.
 */
function checkResource(doc: RawDocument, ctx: PassContext): boolean {
  const v = doc.value;
  if (!isMapping(v)) {
    const what = Array.isArray(v) ? 'a list' : `a ${typeof v}`;
    report(ctx, 'WFT203', `document is ${what}, not a resource mapping with apiVersion, kind, metadata and spec`, place(doc.origin));
    return false;
  }
  const missing = ['apiVersion', 'kind', 'metadata'].filter((k) => !Object.hasOwn(v, k));
  if (missing.length > 0) {
    report(ctx, 'WFT203', `document is not a resource: missing ${missing.join(', ')}`, place(doc.origin), { hint: 'a resource needs apiVersion, kind, metadata.name and spec' });
    return false;
  }
  if (typeof v.kind !== 'string') {
    report(ctx, 'WFT203', 'kind must be a string', place(doc.origin, '/kind'));
    return false;
  }
  if (typeof v.apiVersion !== 'string') {
    report(ctx, 'WFT203', 'apiVersion must be a string', place(doc.origin, '/apiVersion'));
    return false;
  }
  if (!isMapping(v.metadata)) {
    report(ctx, 'WFT203', 'metadata must be a mapping with a name', place(doc.origin, '/metadata'));
    return false;
  }
  const kind = v.kind;
  if (!(KINDS as string[]).includes(kind)) {
    const guess = didYouMean(kind, KINDS);
    report(ctx, 'WFT204', `unknown kind "${kind}"`, place(doc.origin, '/kind'), {
      hint: guess ? `did you mean "${guess}"?` : `use one of ${KINDS.join(', ')}`,
    });
    return false;
  }
  const want = API_VERSIONS[kind as Kind];
  if (v.apiVersion !== want) {
    report(ctx, 'WFT205', `${kind} needs apiVersion ${want}, not "${v.apiVersion}"`, place(doc.origin, '/apiVersion'), { hint: `write apiVersion: ${want}` });
    return false;
  }
  return true;
}
