/**
 * A byte-level Aho-Corasick automaton compiled to a dense DFA, and a streaming matcher
 * on top of it that resolves matches into non-overlapping *covered runs* with constant
 * memory. Shared by the output redactor (`akc run`) and the leak scanner (`akc scan`).
 *
 * Layout, for speed in the inner loop:
 * - bytes map to classes (every byte that occurs in a pattern gets its own class, all
 *   others share class 0), so a row has K = distinct pattern bytes + 1 entries;
 * - `delta` holds the next state premultiplied by K, so a step is one add and one load;
 * - states are numbered so that every state that ends a pattern (itself or through its
 *   dictionary suffix link) comes last: "is there a match here?" is `s >= outStart`.
 *
 * Secret material: the patterns and the table encode the values. `destroy()` zeroes them.
 */

/** A DFA larger than this (in table entries) is refused rather than eating all memory. */
export const MAX_TABLE_ENTRIES = 64 * 1024 * 1024;

export class Automaton {
  /** Row width: byte classes. */
  readonly k: number;
  /** Byte → class (8-bit when the classes fit: a smaller, faster table in the inner loop). */
  readonly cls: Uint8Array | Uint16Array;
  /** Premultiplied transitions: next = delta[s + cls[byte]]. */
  readonly delta: Int32Array;
  /** Premultiplied index of the first state with an output. */
  readonly outStart: number;
  /** Per state (plain index): the longest pattern ending here, or -1. */
  readonly outFirst: Int32Array;
  /** Per pattern: the next (shorter) pattern ending at the same place, or -1. */
  readonly outNext: Int32Array;
  /** Per state (plain index): its depth (length of the prefix it stands for). */
  readonly depth: Int32Array;
  /** Per pattern: its length. */
  readonly patternLength: Int32Array;
  readonly maxLength: number;
  readonly patternCount: number;

  /**
   * Builds the automaton. Patterns must be non-empty; a duplicate keeps its first index
   * (the later copies never report).
   */
  constructor(patterns: readonly Uint8Array[]) {
    this.patternCount = patterns.length;
    this.patternLength = new Int32Array(patterns.length);
    let total = 1;
    let maxLength = 0;
    const used = new Uint8Array(256);
    patterns.forEach((p, i) => {
      if (p.length === 0) throw new RangeError('empty pattern');
      this.patternLength[i] = p.length;
      total += p.length;
      if (p.length > maxLength) maxLength = p.length;
      for (const b of p) used[b] = 1;
    });
    this.maxLength = maxLength;
    const wide = new Uint16Array(256);
    let k = 1;
    for (let b = 0; b < 256; b++) if (used[b]) wide[b] = k++;
    used.fill(0);
    const cls = k <= 256 ? Uint8Array.from(wide) : wide;
    this.cls = cls;
    this.k = k;
    if (total * k > MAX_TABLE_ENTRIES) {
      throw new RangeError(`too many patterns for one automaton (${total} states × ${k} byte classes)`);
    }

    // 1. The trie, directly in a dense table (-1 = no child yet).
    const go = new Int32Array(total * k).fill(-1);
    const terminal = new Int32Array(total).fill(-1);
    let states = 1;
    patterns.forEach((p, i) => {
      let s = 0;
      for (const b of p) {
        const at = s * k + cls[b]!;
        let next = go[at]!;
        if (next === -1) {
          next = states++;
          go[at] = next;
        }
        s = next;
      }
      if (terminal[s] === -1) terminal[s] = i;
    });

    // 2. Breadth-first: failure links complete the DFA; outputs chain along suffix links.
    const fail = new Int32Array(states);
    const depth = new Int32Array(states);
    const outFirst = new Int32Array(states).fill(-1);
    const outNext = new Int32Array(patterns.length).fill(-1);
    const order = new Int32Array(states);
    let head = 0;
    let tail = 0;
    order[tail++] = 0;
    while (head < tail) {
      const u = order[head++]!;
      const f = fail[u]!;
      if (u !== 0) {
        const own = terminal[u]!;
        const inherited = outFirst[f]!;
        if (own !== -1) {
          outFirst[u] = own;
          outNext[own] = inherited;
        } else {
          outFirst[u] = inherited;
        }
      }
      for (let c = 0; c < k; c++) {
        const at = u * k + c;
        const v = go[at]!;
        if (v === -1) {
          go[at] = u === 0 ? 0 : go[f * k + c]!;
        } else {
          fail[v] = u === 0 ? 0 : go[f * k + c]!;
          depth[v] = depth[u]! + 1;
          order[tail++] = v;
        }
      }
    }
    terminal.fill(0);

    // 3. Renumber: states without output first (the root stays 0), then those with one.
    const renum = new Int32Array(states);
    let n = 0;
    for (let s = 0; s < states; s++) if (outFirst[s] === -1) renum[s] = n++;
    const firstOut = n;
    for (let s = 0; s < states; s++) if (outFirst[s] !== -1) renum[s] = n++;
    const delta = new Int32Array(states * k);
    const depth2 = new Int32Array(states);
    const outFirst2 = new Int32Array(states);
    for (let s = 0; s < states; s++) {
      const r = renum[s]!;
      depth2[r] = depth[s]!;
      outFirst2[r] = outFirst[s]!;
      for (let c = 0; c < k; c++) delta[r * k + c] = renum[go[s * k + c]!]! * k;
    }
    go.fill(0);
    this.delta = delta;
    this.depth = depth2;
    this.outFirst = outFirst2;
    this.outNext = outNext;
    this.outStart = firstOut * k;
  }

  /** Zeroes the tables (they encode the patterns). */
  destroy(): void {
    this.delta.fill(0);
    this.outFirst.fill(-1);
    this.depth.fill(0);
    this.cls.fill(0);
  }
}

/** Where resolved output goes. Offsets are absolute stream offsets. */
export interface MatchSink {
  /** Bytes no pattern covers, in order (`buf[start, end)`). */
  plain(buf: Uint8Array, start: number, end: number): void;
  /**
   * A match. `opens` is true when it starts a new covered run (output a marker), false
   * when it overlaps the run already open (merge: no new marker).
   */
  match(pattern: number, absStart: number, opens: boolean): void;
  /** Covered bytes (already represented by the run's marker), in order. */
  covered(buf: Uint8Array, start: number, end: number): void;
}

/**
 * Feeds a stream through the automaton and resolves every occurrence of every pattern
 * into covered runs: the union of all match intervals, so overlapping matches (a value
 * and an encoding of another one sharing bytes) never leave a partly exposed tail.
 *
 * Constant memory: a byte can be released once no future match can cover it, i.e. once
 * it lies before `pos - depth(state)` (a future match starts at or after that point). So
 * at most `maxLength - 1` bytes are ever held back between chunks. Those held bytes are
 * copied into a private buffer that is zeroed when replaced.
 */
export class StreamMatcher {
  private s = 0;
  /** Absolute offset of the next input byte. */
  private pos = 0;
  /** Output is decided for every byte before this offset. */
  private cursor = 0;
  /** End (exclusive) of the covered run last opened. */
  private coveredUntil = 0;
  /** Bytes [cursor, pos) not yet released. */
  private held: Buffer = Buffer.alloc(0);
  private heldStart = 0;
  private candStart: number[] = [];
  private candEnd: number[] = [];
  private candPattern: number[] = [];
  private ended = false;

  constructor(
    private readonly ac: Automaton,
    private readonly sink: MatchSink,
  ) {}

  get offset(): number {
    return this.pos;
  }

  /** Bytes currently held back (a prefix of some pattern may continue in the next chunk). */
  get heldBytes(): number {
    return this.pos - this.cursor;
  }

  write(chunk: Uint8Array): void {
    if (this.ended) throw new Error('write after end');
    if (chunk.length === 0) return;
    const { delta, cls, outStart } = this.ac;
    let s = this.s;
    const base = this.pos;
    const n = chunk.length;
    for (let i = 0; i < n; i++) {
      s = delta[s + cls[chunk[i]!]!]!;
      if (s >= outStart) this.record(s, base + i);
    }
    this.s = s;
    this.pos = base + n;
    const frontier = this.pos - this.ac.depth[s / this.ac.k]!;
    this.resolve(frontier, chunk, base);
  }

  /** Releases everything held: no more input comes. */
  end(): void {
    if (this.ended) return;
    this.resolve(this.pos, null, this.pos);
    this.ended = true;
    this.held.fill(0);
    this.held = Buffer.alloc(0);
  }

  /** Zeroes what is held without releasing it (abandon the stream). */
  destroy(): void {
    this.ended = true;
    this.held.fill(0);
    this.held = Buffer.alloc(0);
    this.candStart.length = this.candEnd.length = this.candPattern.length = 0;
  }

  private record(s: number, absEnd: number): void {
    const { outFirst, outNext, patternLength, k } = this.ac;
    for (let p = outFirst[s / k]!; p !== -1; p = outNext[p]!) {
      this.candStart.push(absEnd - patternLength[p]! + 1);
      this.candEnd.push(absEnd + 1);
      this.candPattern.push(p);
    }
  }

  /** Emits `[a, b)` from the held bytes and/or the current chunk. */
  private emit(kind: 'plain' | 'covered', a: number, b: number, chunk: Uint8Array | null, chunkStart: number): void {
    if (a >= b) return;
    const out = kind === 'plain' ? this.sink.plain.bind(this.sink) : this.sink.covered.bind(this.sink);
    const heldEnd = this.heldStart + this.held.length;
    if (a < heldEnd) {
      const e = Math.min(b, heldEnd);
      out(this.held, a - this.heldStart, e - this.heldStart);
      a = e;
    }
    if (a < b && chunk) out(chunk, a - chunkStart, b - chunkStart);
  }

  private resolve(frontier: number, chunk: Uint8Array | null, chunkStart: number): void {
    const count = this.candStart.length;
    if (count > 0) {
      // Candidates in start order, longest first at equal starts.
      const idx = Array.from({ length: count }, (_, i) => i);
      const st = this.candStart;
      const en = this.candEnd;
      if (count > 1) idx.sort((x, y) => st[x]! - st[y]! || en[y]! - en[x]!);
      const keepStart: number[] = [];
      const keepEnd: number[] = [];
      const keepPattern: number[] = [];
      for (const i of idx) {
        const a = st[i]!;
        const b = en[i]!;
        if (a >= frontier) {
          keepStart.push(a);
          keepEnd.push(b);
          keepPattern.push(this.candPattern[i]!);
          continue;
        }
        if (a < this.coveredUntil) {
          // Overlaps the open run: extend it.
          this.sink.match(this.candPattern[i]!, a, false);
          if (b > this.cursor) {
            this.emit('covered', this.cursor, b, chunk, chunkStart);
            this.cursor = b;
          }
          if (b > this.coveredUntil) this.coveredUntil = b;
        } else {
          this.emit('plain', this.cursor, a, chunk, chunkStart);
          this.sink.match(this.candPattern[i]!, a, true);
          this.emit('covered', a, b, chunk, chunkStart);
          this.cursor = b;
          this.coveredUntil = b;
        }
      }
      this.candStart = keepStart;
      this.candEnd = keepEnd;
      this.candPattern = keepPattern;
    }
    if (this.cursor < frontier) {
      this.emit('plain', this.cursor, frontier, chunk, chunkStart);
      this.cursor = frontier;
    }
    // Keep [cursor, pos) for the next round (at most maxLength - 1 bytes).
    const keep = this.pos - this.cursor;
    const old = this.held;
    const oldStart = this.heldStart;
    if (keep === 0) {
      this.held = Buffer.alloc(0);
    } else {
      const next = Buffer.allocUnsafe(keep);
      let w = 0;
      let a = this.cursor;
      const oldEnd = oldStart + old.length;
      if (a < oldEnd) {
        const e = Math.min(this.pos, oldEnd);
        next.set(old.subarray(a - oldStart, e - oldStart), 0);
        w = e - a;
        a = e;
      }
      if (a < this.pos && chunk) next.set(chunk.subarray(a - chunkStart, this.pos - chunkStart), w);
      this.held = next;
    }
    this.heldStart = this.cursor;
    if (old.length > 0) old.fill(0);
  }
}
