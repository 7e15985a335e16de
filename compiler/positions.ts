/**
 * Source positions of parsed YAML, kept as character offsets and turned into line:column only
 * when a finding asks for one. A repository of thousands of Services has millions of nodes and
 * only a handful of findings, so computing every span up front was most of the parse pass's
 * allocation (measured: a third of its time went to garbage collection).
 */
/** SourceSpan is a range in a source file: 1-based, end inclusive of the last character's column + 1 (LSP-like). */
export interface SourceSpan {
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
}

/** LineIndex maps character offsets of one text to 1-based line and column (UTF-16 units). */
export class LineIndex {
  private readonly starts: number[] = [0];
  constructor(private readonly text: string) {
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) this.starts.push(i + 1);
  }
  pos(offset: number): { line: number; column: number } {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.starts[mid] ?? 0) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - (this.starts[lo] ?? 0) + 1 };
  }
  span(start: number, end: number): SourceSpan {
    let e = Math.max(start, end);
    // A block scalar's range ends after its newline; the span should end on its last line.
    while (e > start + 1 && (this.text.charCodeAt(e - 1) === 10 || this.text.charCodeAt(e - 1) === 13)) e--;
    const a = this.pos(start);
    const b = this.pos(e);
    return { line: a.line, column: a.column, endLine: b.line, endColumn: b.column };
  }
}

type Entry = { value: SourceSpan; key?: SourceSpan };

/**
 * OffsetPositions is an Origin's position map (JSON Pointer → value span and key span) stored as
 * offsets. It is read-only to its users; the parser fills it with `record`. A pointer recorded
 * twice keeps its first record (a duplicate key's value must not move the original's position).
 */
export class OffsetPositions implements ReadonlyMap<string, Entry> {
  private readonly slots = new Map<string, number>();
  /** Four numbers per slot: value start, value end, key start, key end (key -1 when none). */
  private readonly offsets: number[] = [];

  constructor(private readonly lines: LineIndex) {}

  /** record notes where the node at `pointer` (and its key, when keyStart ≥ 0) was written. */
  record(pointer: string, start: number, end: number, keyStart = -1, keyEnd = -1): void {
    if (this.slots.has(pointer)) return;
    this.slots.set(pointer, this.offsets.length);
    this.offsets.push(start, end, keyStart, keyEnd);
  }

  get size(): number {
    return this.slots.size;
  }

  has(pointer: string): boolean {
    return this.slots.has(pointer);
  }

  /** lineColumnOf is where the value at `pointer` starts (line and column of get(pointer).value), without building its spans; undefined when not recorded. */
  lineColumnOf(pointer: string): { line: number; column: number } | undefined {
    const slot = this.slots.get(pointer);
    return slot === undefined ? undefined : this.lines.pos(this.offsets[slot]!);
  }

  get(pointer: string): Entry | undefined {
    const slot = this.slots.get(pointer);
    return slot === undefined ? undefined : this.entryAt(slot);
  }

  private entryAt(slot: number): Entry {
    const o = this.offsets;
    const value = this.lines.span(o[slot]!, o[slot + 1]!);
    const ks = o[slot + 2]!;
    return ks >= 0 ? { value, key: this.lines.span(ks, o[slot + 3]!) } : { value };
  }

  *entries(): MapIterator<[string, Entry]> {
    for (const [p, slot] of this.slots) yield [p, this.entryAt(slot)];
  }

  keys(): MapIterator<string> {
    return this.slots.keys();
  }

  *values(): MapIterator<Entry> {
    for (const slot of this.slots.values()) yield this.entryAt(slot);
  }

  [Symbol.iterator](): MapIterator<[string, Entry]> {
    return this.entries();
  }

  forEach(fn: (value: Entry, key: string, map: ReadonlyMap<string, Entry>) => void): void {
    for (const [p, e] of this.entries()) fn(e, p, this);
  }
}

/**
 * LazyPositions is a document's position map when the parser recorded only some of its nodes
 * (`eager`): a pointer recorded there is answered from it; anything else, and any question about
 * the whole map, from the complete map, which `complete` builds on first demand (parse.ts parses
 * the text again) and which is then kept. The two agree on every pointer `eager` holds.
 */
export class LazyPositions implements ReadonlyMap<string, Entry> {
  private all: ReadonlyMap<string, Entry> | null = null;

  constructor(
    private readonly eager: OffsetPositions,
    private readonly complete: () => ReadonlyMap<string, Entry>,
  ) {}

  private full(): ReadonlyMap<string, Entry> {
    return (this.all ??= this.complete());
  }

  get size(): number {
    return this.full().size;
  }

  has(pointer: string): boolean {
    return this.eager.has(pointer) || this.full().has(pointer);
  }

  get(pointer: string): Entry | undefined {
    return this.eager.get(pointer) ?? this.full().get(pointer);
  }

  /**
   * lineColumnOf is where the value at `pointer` starts, when the parser recorded it eagerly
   * (lower's source map asks for rules and matches, which it always records); undefined
   * otherwise, and the caller asks get() (which builds the complete map).
   */
  lineColumnOf(pointer: string): { line: number; column: number } | undefined {
    return this.eager.lineColumnOf(pointer);
  }

  entries(): MapIterator<[string, Entry]> {
    return this.full().entries();
  }

  keys(): MapIterator<string> {
    return this.full().keys();
  }

  values(): MapIterator<Entry> {
    return this.full().values();
  }

  [Symbol.iterator](): MapIterator<[string, Entry]> {
    return this.full().entries();
  }

  forEach(fn: (value: Entry, key: string, map: ReadonlyMap<string, Entry>) => void): void {
    this.full().forEach((v, k) => fn(v, k, this));
  }
}
