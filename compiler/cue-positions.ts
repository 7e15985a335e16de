/**
 * cue-positions: a textual index of where fields are written in CUE source, so resources that
 * CUE exports (plain JSON, no positions) can be mapped back to the .cue text.
 *
 * This is deliberately not a CUE parser. It tokenizes (strings with interpolation, raw and
 * multi-line strings, comments, CUE's newline comma rule) and follows the literal structure:
 * `a: b: {...}` label chains, struct and list literals, struct literals inside conjunctions
 * (`#Def & {...}`), and comprehension bodies. What it cannot know it records as a wildcard:
 * interpolated or computed labels (`"\(s)": ...`, `(k): ...`), pattern constraints
 * (`[string]: ...`) and list elements from comprehensions all become `*`, matched after exact
 * labels. A value that names a definition or field (`#Policy & {...}`) records the reference, so
 * a field not written at the use site can be found where the referenced struct writes it.
 * Anything else (values computed by expressions, fields from imported packages) is not found,
 * and callers fall back to the closest ancestor that was.
 */
import type { SourceSpan } from './positions.js';

/** WrittenAt is where one field was written in one file: its label (if any) and its value. */
export interface WrittenAt {
  key?: SourceSpan;
  value: SourceSpan;
}

/** CueNode is one field path in a unit's merged index; spans are per file, first writing wins. */
export interface CueNode {
  readonly children: Map<string, CueNode>;
  /** Dotted references named by the value (`#Policy`, `_base.spec`), tried when a label is missing. */
  readonly refs: string[][];
  /** File (tree-relative) → where this field is written in it. Insertion order = file order. */
  readonly at: Map<string, WrittenAt>;
}

/** WILDCARD is the label of fields whose names the index cannot know statically. */
export const WILDCARD = '*';

/** newNode is an empty index node (a unit's root before its files are indexed). */
export function newNode(): CueNode {
  return { children: new Map(), refs: [], at: new Map() };
}

type TokKind = 'ident' | 'string' | 'number' | 'punct' | 'nl' | 'attr';

interface Tok {
  kind: TokKind;
  text: string;
  line: number;
  col: number;
  endLine: number;
  endCol: number;
  /** For strings: the label text when it is a plain (non-interpolated) string. */
  label?: string | null;
}

const PUNCT3 = ['...'];
const PUNCT2 = ['==', '!=', '<=', '>=', '=~', '!~', '&&', '||'];
const IDENT_START = /[A-Za-z_$#]/;
const IDENT_PART = /[A-Za-z0-9_$#]/;

/** tokenize never throws: unterminated constructs end at end of text. */
function tokenize(text: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const n = text.length;
  const col = (at: number): number => at - lineStart + 1;
  const advanceTo = (end: number): void => {
    for (let k = i; k < end; k++) {
      if (text.charCodeAt(k) === 10) {
        line++;
        lineStart = k + 1;
      }
    }
    i = end;
  };
  while (i < n) {
    const c = text[i]!;
    if (c === '\n') {
      toks.push({ kind: 'nl', text: '\n', line, col: col(i), endLine: line, endCol: col(i) + 1 });
      advanceTo(i + 1);
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r' || c === '\uFEFF') {
      i++;
      continue;
    }
    if (c === '/' && text[i + 1] === '/') {
      while (i < n && text[i] !== '\n') i++;
      continue;
    }
    const startLine = line;
    const startCol = col(i);
    // Strings: optional #s, then ' or ", possibly tripled.
    let hashes = 0;
    while (text[i + hashes] === '#') hashes++;
    const q = text[i + hashes];
    if (q === '"' || q === "'") {
      const end = scanString(text, i, hashes, q);
      const raw = text.slice(i, end);
      advanceTo(end);
      toks.push({ kind: 'string', text: raw, line: startLine, col: startCol, endLine: line, endCol: col(i), label: plainString(raw, hashes) });
      continue;
    }
    if (c === '@' && IDENT_START.test(text[i + 1] ?? '')) {
      // Attribute `@name(...)`: skipped as one token (parenthesised body balanced).
      let k = i + 1;
      while (k < n && IDENT_PART.test(text[k]!)) k++;
      if (text[k] === '(') k = skipBalanced(text, k, '(', ')');
      advanceTo(k);
      toks.push({ kind: 'attr', text: '@', line: startLine, col: startCol, endLine: line, endCol: col(i) });
      continue;
    }
    if (IDENT_START.test(c)) {
      let k = i + 1;
      while (k < n && IDENT_PART.test(text[k]!)) k++;
      toks.push({ kind: 'ident', text: text.slice(i, k), line, col: startCol, endLine: line, endCol: col(k) });
      i = k;
      continue;
    }
    if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(text[i + 1] ?? ''))) {
      let k = i + 1;
      while (k < n && /[0-9A-Za-z_.]/.test(text[k]!)) {
        if ((text[k] === 'e' || text[k] === 'E') && (text[k + 1] === '+' || text[k + 1] === '-')) k++;
        if (text[k] === '.' && text[k + 1] === '.') break;
        k++;
      }
      toks.push({ kind: 'number', text: text.slice(i, k), line, col: startCol, endLine: line, endCol: col(k) });
      i = k;
      continue;
    }
    const three = text.slice(i, i + 3);
    const two = text.slice(i, i + 2);
    const p = PUNCT3.includes(three) ? three : PUNCT2.includes(two) ? two : c;
    toks.push({ kind: 'punct', text: p, line, col: startCol, endLine: line, endCol: startCol + p.length });
    i += p.length;
  }
  return autoCommas(toks);
}

/** scanString returns the index just past the string starting at `start`. */
function scanString(text: string, start: number, hashes: number, q: string): number {
  const n = text.length;
  const triple = text.slice(start + hashes, start + hashes + 3) === q.repeat(3);
  const close = (triple ? q.repeat(3) : q) + '#'.repeat(hashes);
  const escape = '\\' + '#'.repeat(hashes);
  let k = start + hashes + (triple ? 3 : 1);
  while (k < n) {
    if (text.startsWith(escape, k)) {
      k += escape.length;
      if (text[k] === '(') k = skipBalanced(text, k, '(', ')');
      else k++;
      continue;
    }
    if (text.startsWith(close, k)) return k + close.length;
    if (!triple && text[k] === '\n') return k;
    k++;
  }
  return n;
}

/** skipBalanced returns the index past the bracket that closes the one at `start` (strings inside are skipped). */
function skipBalanced(text: string, start: number, open: string, closeCh: string): number {
  let depth = 0;
  let k = start;
  while (k < text.length) {
    const ch = text[k]!;
    if (ch === '"' || ch === "'") {
      k = scanString(text, k, 0, ch);
      continue;
    }
    if (ch === open) depth++;
    else if (ch === closeCh) {
      depth--;
      if (depth === 0) return k + 1;
    }
    k++;
  }
  return k;
}

/** plainString is the value of a simple double-quoted string, or null (interpolated, raw, multi-line). */
function plainString(raw: string, hashes: number): string | null {
  if (hashes !== 0 || !raw.startsWith('"') || raw.startsWith('"""') || raw.includes('\\(')) return null;
  try {
    const v: unknown = JSON.parse(raw);
    return typeof v === 'string' ? v : null;
  } catch {
    return null;
  }
}

/**
 * autoCommas applies CUE's (Go's) rule: a newline after a token that can end an operand is a
 * comma; other newlines are dropped.
 */
function autoCommas(toks: Tok[]): Tok[] {
  const out: Tok[] = [];
  for (const t of toks) {
    if (t.kind !== 'nl') {
      out.push(t);
      continue;
    }
    const prev = out.at(-1);
    if (!prev) continue;
    const ends = prev.kind === 'ident' || prev.kind === 'string' || prev.kind === 'number' || prev.kind === 'attr' || (prev.kind === 'punct' && [')', ']', '}', '...'].includes(prev.text));
    if (ends) out.push({ ...t, kind: 'punct', text: ',' });
  }
  return out;
}

const OPEN: Record<string, string> = { '{': '}', '[': ']', '(': ')' };

/** matchClose returns the index of the bracket closing toks[i] (or toks.length when unbalanced). */
function matchClose(toks: readonly Tok[], i: number, end: number): number {
  let depth = 0;
  for (let k = i; k < end; k++) {
    const t = toks[k]!;
    if (t.kind !== 'punct') continue;
    if (t.text in OPEN) depth++;
    else if (t.text === '}' || t.text === ']' || t.text === ')') {
      depth--;
      if (depth === 0) return k;
    }
  }
  return end;
}

/** splitTop splits toks[start, end) at depth-0 commas. */
function splitTop(toks: readonly Tok[], start: number, end: number): Array<[number, number]> {
  const parts: Array<[number, number]> = [];
  let from = start;
  let k = start;
  while (k < end) {
    const t = toks[k]!;
    if (t.kind === 'punct' && t.text in OPEN) {
      k = matchClose(toks, k, end) + 1;
      continue;
    }
    if (t.kind === 'punct' && t.text === ',') {
      if (k > from) parts.push([from, k]);
      from = k + 1;
    }
    k++;
  }
  if (end > from) parts.push([from, end]);
  return parts;
}

const NOT_REFS = new Set(['int', 'string', 'bool', 'number', 'float', 'bytes', 'null', 'true', 'false', 'for', 'in', 'if', 'let', 'div', 'mod', 'quo', 'rem', 'top', '_', 'uint', 'len', 'close', 'and', 'or']);

class Indexer {
  constructor(
    private readonly toks: readonly Tok[],
    private readonly file: string,
  ) {}

  private span(from: number, to: number): SourceSpan {
    const a = this.toks[from]!;
    const b = this.toks[Math.max(from, to - 1)]!;
    return { line: a.line, column: a.col, endLine: b.endLine, endColumn: b.endCol };
  }

  private child(node: CueNode, label: string): CueNode {
    let c = node.children.get(label);
    if (!c) {
      c = newNode();
      node.children.set(label, c);
    }
    return c;
  }

  private mark(node: CueNode, value: SourceSpan, key?: SourceSpan): void {
    if (!node.at.has(this.file)) node.at.set(this.file, key ? { key, value } : { value });
  }

  /** decls indexes the declarations in toks[start, end) into node (a struct body or a file). */
  decls(node: CueNode, start: number, end: number): void {
    for (const [a, b] of splitTop(this.toks, start, end)) this.decl(node, a, b);
  }

  private decl(node: CueNode, a: number, b: number): void {
    const first = this.toks[a]!;
    const second = this.toks[a + 1];
    const isColon = second?.kind === 'punct' && (second.text === ':' || second.text === '?' || second.text === '!');
    if (first.kind === 'attr') return;
    if (first.kind === 'ident' && !isColon) {
      if (first.text === 'package' || first.text === 'import' || first.text === 'let') return;
      if (first.text === 'for' || first.text === 'if') {
        this.comprehensionBody(node, a, b);
        return;
      }
    }
    // Label chain: (alias=)? label ('?'|'!')? ':' ...
    let k = a;
    let cur = node;
    let labelled = false;
    for (;;) {
      let j = k;
      const t0 = this.toks[j];
      if (t0?.kind === 'ident' && this.toks[j + 1]?.text === '=' && this.toks[j + 1]?.kind === 'punct') j += 2;
      const lt = this.toks[j];
      if (!lt || j >= b) break;
      let label: string | null = null;
      let after = j + 1;
      if (lt.kind === 'ident') label = lt.text;
      else if (lt.kind === 'string') label = lt.label ?? WILDCARD;
      else if (lt.kind === 'number') label = lt.text;
      else if (lt.kind === 'punct' && (lt.text === '(' || lt.text === '[')) {
        label = WILDCARD;
        after = matchClose(this.toks, j, b) + 1;
      }
      if (label === null) break;
      const q = this.toks[after];
      if (q?.kind === 'punct' && (q.text === '?' || q.text === '!')) after++;
      const colon = this.toks[after];
      if (!(colon?.kind === 'punct' && colon.text === ':') || after >= b) break;
      const keySpan = this.span(j, after);
      const next = this.child(cur, label);
      if (after + 1 < b) this.mark(next, this.span(after + 1, b), keySpan);
      cur = next;
      labelled = true;
      k = after + 1;
    }
    if (k >= b) return;
    // Not a field: an embedding (`#Base`, `{...}`) merges into this struct.
    if (!labelled) this.value(node, a, b);
    else this.value(cur, k, b);
  }

  /** comprehensionBody indexes the struct that a `for`/`if` clause yields, into node. */
  private comprehensionBody(node: CueNode, a: number, b: number): void {
    // The yielded struct is the last depth-0 `{...}` of the clause.
    let k = a;
    let body: [number, number] | null = null;
    while (k < b) {
      const t = this.toks[k]!;
      if (t.kind === 'punct' && t.text in OPEN) {
        const close = matchClose(this.toks, k, b);
        if (t.text === '{') body = [k, close];
        k = close + 1;
        continue;
      }
      k++;
    }
    if (body) this.decls(node, body[0] + 1, body[1]);
  }

  /** value indexes a field value: struct and list literals, and the references it names. */
  private value(node: CueNode, a: number, b: number): void {
    let k = a;
    while (k < b) {
      const t = this.toks[k]!;
      const prev = k > a ? this.toks[k - 1] : undefined;
      if (t.kind === 'punct' && t.text in OPEN) {
        const close = matchClose(this.toks, k, b);
        const indexes = prev !== undefined && (prev.kind === 'ident' || (prev.kind === 'punct' && (prev.text === ')' || prev.text === ']')));
        if (t.text === '{') this.decls(node, k + 1, close);
        else if (t.text === '[' && !indexes) this.list(node, k + 1, close);
        k = close + 1;
        continue;
      }
      if (t.kind === 'ident' && !NOT_REFS.has(t.text) && !(prev?.kind === 'punct' && prev.text === '.')) {
        const ref = [t.text];
        let j = k + 1;
        while (this.toks[j]?.text === '.' && this.toks[j + 1]?.kind === 'ident' && j + 1 < b) {
          ref.push(this.toks[j + 1]!.text);
          j += 2;
        }
        const call = this.toks[j]?.kind === 'punct' && this.toks[j]?.text === '(';
        if (!call && j <= b) node.refs.push(ref);
        k = j;
        continue;
      }
      k++;
    }
  }

  /** list indexes list elements by position until a comprehension, then as wildcards. */
  private list(node: CueNode, start: number, end: number): void {
    let index = 0;
    let wild = false;
    for (const [a, b] of splitTop(this.toks, start, end)) {
      const first = this.toks[a]!;
      if (first.kind === 'punct' && first.text === '...') {
        wild = true;
        continue;
      }
      if (first.kind === 'ident' && (first.text === 'for' || first.text === 'if')) {
        wild = true;
        const elem = this.child(node, WILDCARD);
        this.mark(elem, this.span(a, b));
        this.comprehensionBody(elem, a, b);
        continue;
      }
      const elem = this.child(node, wild ? WILDCARD : String(index));
      this.mark(elem, this.span(a, b));
      this.value(elem, a, b);
      index++;
    }
  }
}

/**
 * indexCueFile adds the fields written in one file to `root` (the unit's merged index), and the
 * first place each plain string literal is written to `literals` (how a generated resource is
 * traced to the line that names it). Never throws; text it does not understand is skipped.
 */
export function indexCueFile(root: CueNode, file: string, text: string, literals?: Literals): void {
  const toks = tokenize(text);
  new Indexer(toks, file).decls(root, 0, toks.length);
  if (!literals) return;
  toks.forEach((t, i) => {
    const v = t.kind === 'string' ? t.label : t.kind === 'ident' ? t.text : null;
    if (!v) return;
    let next = toks[i + 1];
    if (next?.kind === 'punct' && (next.text === '?' || next.text === '!')) next = toks[i + 2];
    const isLabel = next?.kind === 'punct' && next.text === ':';
    if (t.kind === 'ident' && !isLabel) return;
    let perFile = literals.get(v);
    if (!perFile) literals.set(v, (perFile = new Map()));
    let seen = perFile.get(file);
    if (!seen) perFile.set(file, (seen = {}));
    const span = { line: t.line, column: t.col, endLine: t.endLine, endColumn: t.endCol };
    if (isLabel) seen.label ??= span;
    else seen.value ??= span;
  });
}

/** Literals records, per plain string (or identifier label), where it is first written in each file, as a label and as a value. */
export type Literals = Map<string, Map<string, { label?: SourceSpan; value?: SourceSpan }>>;

/**
 * findLiteral picks where `text` is written, preferring `file` (the comprehension that generated
 * the resource), then a label (`"reviews-v1": {...}`) over a plain value.
 */
export function findLiteral(literals: Literals, text: string, file: string | null): { file: string; span: SourceSpan } | null {
  const perFile = literals.get(text);
  if (!perFile) return null;
  let best: { file: string; span: SourceSpan; rank: number } | null = null;
  for (const [f, seen] of perFile) {
    const base = f === file ? 0 : 2;
    for (const [span, rank] of [[seen.label, base], [seen.value, base + 1]] as const) {
      if (span && (best === null || rank < best.rank)) best = { file: f, span, rank };
    }
  }
  return best && { file: best.file, span: best.span };
}

/**
 * findNode walks `path` (labels, list indexes as strings) from `root`: an exact label first,
 * then a wildcard, then through the references of the node reached so far (resolved from the
 * root). With `file`, only a node written in that file is an answer. Bounded: never loops on
 * cyclic references.
 */
export function findNode(root: CueNode, path: readonly string[], file?: string): CueNode | null {
  let budget = 2000;
  const walk = (node: CueNode, i: number, refDepth: number): CueNode | null => {
    if (--budget < 0) return null;
    if (i === path.length) return file === undefined || node.at.has(file) ? node : null;
    const seg = path[i]!;
    for (const label of seg === WILDCARD ? [WILDCARD] : [seg, WILDCARD]) {
      const c = node.children.get(label);
      if (c) {
        const found = walk(c, i + 1, refDepth);
        if (found) return found;
      }
    }
    if (refDepth < 4) {
      for (const ref of node.refs) {
        let target: CueNode | null = root;
        for (const r of ref) target = target?.children.get(r) ?? null;
        if (target && target !== node) {
          const found = walk(target, i, refDepth + 1);
          if (found) return found;
        }
      }
    }
    return null;
  };
  return walk(root, 0, 0);
}

/** packageName reads a file's `package` clause (after comments and attributes), or null. */
export function packageName(text: string): string | null {
  const toks = tokenize(text).filter((t) => t.kind !== 'attr' && !(t.kind === 'punct' && t.text === ','));
  const [a, b] = toks;
  if (a?.kind === 'ident' && a.text === 'package' && b?.kind === 'ident') return b.text;
  return null;
}

/** tokenLength is the length of the token starting at `column` (1-based) of `lineText`, at least 1. */
export function tokenLength(lineText: string, column: number): number {
  const rest = lineText.slice(column - 1);
  const m = /^(?:"(?:[^"\\]|\\.)*"|[A-Za-z0-9_$#.]+|\S)/.exec(rest);
  return m ? m[0].length : 1;
}
