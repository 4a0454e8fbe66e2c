/**
 * Streaming redaction of secret values (`akc run`, MCP's run_with_secrets, the
 * proxy's scrubber): every occurrence of each value and of each of its forms (encodings.ts:
 * base64, base64url, hex, URL, JSON / shell / YAML / Python repr escapes, each line of a
 * multi-line value) becomes `[REDACTED:<label>]`.
 *
 * - One Aho-Corasick automaton over bytes finds all forms of all values in one pass
 *   (aho-corasick.ts); the forms and the base64 alignment handling are in encodings.ts.
 * - Streaming with constant memory: between chunks only the bytes that may still begin a
 *   match are held back (at most longest-form − 1 bytes), so a value split across chunks
 *   or writes is still caught; `end()` releases the rest.
 * - Overlapping matches merge into one covered run with one marker, labelled after the
 *   leftmost (longest) match, so no partial form is left exposed next to a marker.
 * - Held bytes are zeroed when released; `destroy()` zeroes the patterns and the table.
 *
 * Limits (documented in the README): a value split by something else (line-wrapped
 * base64, mixed-case hex, an escape style not in escapes.ts) is not recognized; a line of
 * a multi-line value shorter than MIN_LINE_LENGTH is not redacted on its own; a stream
 * stalled in the middle of a possible value holds those bytes back until more output or
 * the end.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { Automaton, StreamMatcher, type MatchSink } from './aho-corasick.js';
import { encodedForms, type EncodingName } from './encodings.js';

export interface LabelledValue {
  /** Shown in the marker: `[REDACTED:<label>]`. Never the value. */
  label: string;
  value: Uint8Array;
}

export interface PatternInfo {
  /** Index of the value (in the list given to PatternSet) this pattern finds. */
  owner: number;
  encoding: EncodingName;
  /** The 1-based line of a multi-line value this pattern is (absent: the whole value). */
  line?: number;
}

/** A pattern searched for as it is (no derived forms), e.g. a credential built from a value. */
export interface ExactPattern {
  owner: number;
  bytes: Uint8Array;
}

/** The compiled forms of a set of values. Shared by any number of streams. */
export class PatternSet {
  readonly automaton: Automaton | null;
  readonly info: PatternInfo[];
  private readonly patterns: Buffer[];

  /** `exact` patterns are copied (the caller zeroes its own) and matched as given. */
  constructor(values: readonly Uint8Array[], exact: readonly ExactPattern[] = []) {
    const patterns: Buffer[] = [];
    const info: PatternInfo[] = [];
    values.forEach((value, owner) => {
      if (value.length === 0) return;
      for (const form of encodedForms(value)) {
        patterns.push(form.bytes);
        info.push(form.line === undefined ? { owner, encoding: form.encoding } : { owner, encoding: form.encoding, line: form.line });
      }
    });
    for (const p of exact) {
      if (p.bytes.length === 0) continue;
      patterns.push(Buffer.from(p.bytes));
      info.push({ owner: p.owner, encoding: 'raw' });
    }
    this.patterns = patterns;
    this.info = info;
    this.automaton = patterns.length > 0 ? new Automaton(patterns) : null;
  }

  get patternCount(): number {
    return this.patterns.length;
  }

  /** Length of the longest form (bytes held back between chunks are fewer than this). */
  get maxLength(): number {
    return this.automaton?.maxLength ?? 0;
  }

  /** Zeroes every pattern and the automaton's tables. */
  destroy(): void {
    for (const p of this.patterns) p.fill(0);
    this.automaton?.destroy();
  }
}

/** Redacts one stream: write chunks, get redacted bytes back, end() for the rest. */
export class Redactor {
  private readonly matcher: StreamMatcher | null;
  private out: Buffer[] = [];

  constructor(set: PatternSet, markers: readonly Buffer[]) {
    if (!set.automaton) {
      this.matcher = null;
      return;
    }
    const sink: MatchSink = {
      plain: (buf, start, end) => this.out.push(Buffer.from(buf.subarray(start, end))),
      match: (pattern, _at, opens) => {
        if (opens) this.out.push(markers[set.info[pattern]!.owner]!);
      },
      covered: () => undefined,
    };
    this.matcher = new StreamMatcher(set.automaton, sink);
  }

  /** Redacted output for everything that can be decided so far. */
  write(chunk: Uint8Array): Buffer {
    if (!this.matcher) return Buffer.from(chunk);
    this.matcher.write(chunk);
    return this.take();
  }

  /** The rest of the output. */
  end(): Buffer {
    if (!this.matcher) return Buffer.alloc(0);
    this.matcher.end();
    return this.take();
  }

  /** Bytes held back right now (tests check this stays bounded). */
  get heldBytes(): number {
    return this.matcher?.heldBytes ?? 0;
  }

  destroy(): void {
    this.matcher?.destroy();
    this.out = [];
  }

  private take(): Buffer {
    const parts = this.out;
    this.out = [];
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }
}

/**
 * The values to redact, compiled once, and a Transform for each output stream. Call
 * `destroy()` when every stream is done to zero the patterns.
 */
export class RedactionSet {
  private readonly set: PatternSet;
  private readonly markers: Buffer[];

  constructor(values: readonly LabelledValue[]) {
    this.set = new PatternSet(values.map((v) => v.value));
    this.markers = values.map((v) => Buffer.from(`[REDACTED:${v.label}]`));
  }

  get patternCount(): number {
    return this.set.patternCount;
  }

  get maxLength(): number {
    return this.set.maxLength;
  }

  redactor(): Redactor {
    return new Redactor(this.set, this.markers);
  }

  /** A Transform that redacts what flows through it. Input chunks are zeroed once read. */
  stream(): RedactStream {
    return new RedactStream(this.redactor());
  }

  /** Redacts a whole buffer (convenience for small outputs). */
  redact(data: Uint8Array): Buffer {
    const r = this.redactor();
    const head = r.write(data);
    const tail = r.end();
    return tail.length === 0 ? head : Buffer.concat([head, tail]);
  }

  destroy(): void {
    this.set.destroy();
  }
}

export class RedactStream extends Transform {
  constructor(private readonly redactor: Redactor) {
    super();
  }

  /** Bytes held back right now. */
  get heldBytes(): number {
    return this.redactor.heldBytes;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    const out = this.redactor.write(chunk);
    // Ours alone (read from the child): may hold a value, so wipe it.
    chunk.fill(0);
    if (out.length > 0) this.push(out);
    done();
  }

  override _flush(done: TransformCallback): void {
    const out = this.redactor.end();
    if (out.length > 0) this.push(out);
    done();
  }

  override _destroy(err: Error | null, done: (error?: Error | null) => void): void {
    this.redactor.destroy();
    done(err);
  }
}
