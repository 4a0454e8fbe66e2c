/**
 * Leak scanning core: one multi-pattern automaton over every stored value (all versions)
 * and its forms (the redactor's list, redact/encodings.ts: raw, base64, base64url, hex,
 * HEX, URL-encoded, JSON / shell / YAML / Python repr escapes, each line of a multi-line
 * value), streamed over any number of byte streams with constant memory. A finding names
 * the secret, version, form (and the value's line for a line form) and the line where
 * the match starts — never the value.
 */
import { StreamMatcher, type MatchSink } from '../redact/aho-corasick.js';
import type { EncodingName } from '../redact/encodings.js';
import { PatternSet } from '../redact/redactor.js';

/** Values shorter than this are not searched (they would match all over the place). */
export const MIN_SCAN_VALUE_BYTES = 6;

export interface ScanTarget {
  secret: string;
  version: number;
  /** current | previous | retired */
  state: string;
  /** Plaintext. Copied into the patterns; the caller zeroes its own copy. */
  value: Uint8Array;
}

export interface Finding {
  secret: string;
  version: number;
  state: string;
  encoding: EncodingName;
  /** Set when only one line of a multi-line value was found: that line's number (1-based). */
  valueLine?: number;
  /** 1-based line of the first byte of the match. */
  line: number;
  /** Byte offset of the match in its stream. */
  offset: number;
}

export class ScanPatterns {
  private readonly set: PatternSet;
  private readonly owners: Omit<ScanTarget, 'value'>[];
  /** Targets left out because their value is too short. */
  readonly skipped: Omit<ScanTarget, 'value'>[];

  constructor(targets: readonly ScanTarget[]) {
    const used = targets.filter((t) => t.value.length >= MIN_SCAN_VALUE_BYTES);
    this.skipped = targets
      .filter((t) => t.value.length < MIN_SCAN_VALUE_BYTES)
      .map(({ secret, version, state }) => ({ secret, version, state }));
    this.owners = used.map(({ secret, version, state }) => ({ secret, version, state }));
    this.set = new PatternSet(used.map((t) => t.value));
  }

  get patternCount(): number {
    return this.set.patternCount;
  }

  get empty(): boolean {
    return this.set.automaton === null;
  }

  /** A scanner for one stream; findings go to `onFinding` as soon as they are certain. */
  stream(onFinding: (f: Finding) => void): StreamScanner {
    return new StreamScanner(this.set, this.owners, onFinding);
  }

  /** Zeroes the patterns and the automaton. */
  destroy(): void {
    this.set.destroy();
  }
}

export class StreamScanner {
  private readonly matcher: StreamMatcher | null;
  private newlines = 0;
  private runLine = 1;
  /** The value whose match opened the current covered run. */
  private runOwner = -1;
  /** One finding per (line, secret version, encoding). */
  private readonly seen = new Set<string>();

  constructor(set: PatternSet, owners: readonly Omit<ScanTarget, 'value'>[], onFinding: (f: Finding) => void) {
    if (!set.automaton) {
      this.matcher = null;
      return;
    }
    const count = (buf: Uint8Array, start: number, end: number): void => {
      const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
      for (let i = b.indexOf(10, start); i !== -1 && i < end; i = b.indexOf(10, i + 1)) this.newlines++;
    };
    const sink: MatchSink = {
      plain: count,
      covered: count,
      match: (pattern, at, opens) => {
        // Bytes before a run's start are all counted when it opens; an overlapping match
        // is reported on its run's line.
        const info = set.info[pattern]!;
        if (opens) {
          this.runLine = this.newlines + 1;
          this.runOwner = info.owner;
        } else if (info.line !== undefined && info.owner === this.runOwner) {
          // A line of a value found whole (or of a line already reported): nothing new.
          return;
        }
        const owner = owners[info.owner]!;
        const key = `${this.runLine}\0${info.owner}\0${info.encoding}\0${info.line ?? 0}`;
        if (this.seen.has(key)) return;
        this.seen.add(key);
        const where = info.line === undefined ? {} : { valueLine: info.line };
        onFinding({ ...owner, encoding: info.encoding, ...where, line: this.runLine, offset: at });
      },
    };
    this.matcher = new StreamMatcher(set.automaton, sink);
  }

  write(chunk: Uint8Array): void {
    this.matcher?.write(chunk);
  }

  end(): void {
    this.matcher?.end();
    this.seen.clear();
  }
}
