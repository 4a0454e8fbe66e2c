/**
 * Scrubbing a secret out of what comes back from an upstream: header values and a
 * streamed body. It is the redactor's matcher (one Aho-Corasick automaton, redact/), so
 * the body scrubber holds back only the end of a chunk that could be the start of a
 * needle (at most the longest needle − 1 bytes): a value split across chunks (or TCP
 * segments) is still found, memory stays constant whatever the body size, and a chunk
 * that ends cleanly (a server-sent event) goes out at once.
 *
 * Needles: the value in every form `akc run` redacts (redact/encodings.ts: raw, base64,
 * base64url, hex, URL, JSON / shell / YAML / Python repr escapes, each line of a
 * multi-line value), plus any extra whole credentials (e.g. the basic-auth token).
 */
import { Transform, type TransformCallback } from 'node:stream';
import { encodedForms } from '../redact/encodings.js';
import { PatternSet, Redactor } from '../redact/redactor.js';

/** The value's forms and the extra credentials, without duplicates (copies: the caller zeroes its own). */
export function needlesFor(value: Buffer, extra: readonly Buffer[] = []): Buffer[] {
  const out = value.length > 0 ? encodedForms(value).map((f) => f.bytes) : [];
  for (const e of extra) if (e.length > 0 && !out.some((n) => n.equals(e))) out.push(Buffer.from(e));
  return out;
}

export class Scrubber {
  private readonly needles: Buffer[];
  private readonly set: PatternSet;
  private readonly markers: Buffer[];

  /** Each needle is searched for as it is; matches become `[REDACTED:<label>]`. */
  constructor(needles: readonly Buffer[], label: string) {
    this.needles = needles.filter((n) => n.length > 0);
    this.set = new PatternSet(
      [],
      this.needles.map((bytes) => ({ owner: 0, bytes })),
    );
    this.markers = [Buffer.from(`[REDACTED:${label}]`)];
  }

  /** Length of the longest needle. */
  get maxLen(): number {
    return this.set.maxLength;
  }

  /** Replaces every needle in `s`. */
  scrubString(s: string): string {
    if (this.needles.length === 0) return s;
    const r = new Redactor(this.set, this.markers);
    const head = r.write(Buffer.from(s, 'utf8'));
    const tail = r.end();
    return Buffer.concat([head, tail]).toString('utf8');
  }

  /** A Transform that scrubs a byte stream. */
  stream(): Transform {
    if (this.needles.length === 0) return new Transform({ transform: (chunk: Buffer, _enc, cb: TransformCallback) => cb(null, chunk) });
    const r = new Redactor(this.set, this.markers);
    return new Transform({
      transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
        const out = r.write(chunk);
        if (out.length) this.push(out);
        cb();
      },
      flush(cb: TransformCallback) {
        const out = r.end();
        if (out.length) this.push(out);
        cb();
      },
      destroy(err: Error | null, cb: (error: Error | null) => void) {
        r.destroy();
        cb(err);
      },
    });
  }

  /** Zeroes the needles and the automaton (call when the request is over). */
  wipe(): void {
    for (const n of this.needles) n.fill(0);
    this.set.destroy();
  }
}
