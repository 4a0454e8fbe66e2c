/**
 * Scrubbing a secret out of what comes back from an upstream: header values and a
 * streamed body. The body scrubber holds back only the end of a chunk that could be the
 * start of a value (at most the longest needle − 1 bytes), so a value split across chunks
 * (or TCP segments) is still found, memory stays constant whatever the body size, and a
 * chunk that ends cleanly (a server-sent event) goes out at once.
 *
 * Needles: the value itself and its common encodings (base64, base64url, hex, URL and
 * JSON escaping), plus any extra whole credentials (e.g. the basic-auth token).
 */
import { Transform, type TransformCallback } from 'node:stream';

export interface Needle {
  bytes: Buffer;
}

/** The value and its encodings, longest first, without duplicates. */
export function needlesFor(value: Buffer, extra: readonly Buffer[] = []): Buffer[] {
  const text = value.toString('utf8');
  const forms: Buffer[] = [Buffer.from(value), ...extra.map((b) => Buffer.from(b))];
  if (value.length >= 4) {
    forms.push(Buffer.from(value.toString('base64')));
    forms.push(Buffer.from(value.toString('base64url')));
    forms.push(Buffer.from(value.toString('base64').replace(/=+$/, '')));
    forms.push(Buffer.from(value.toString('hex')));
    forms.push(Buffer.from(value.toString('hex').toUpperCase()));
    forms.push(Buffer.from(encodeURIComponent(text)));
    forms.push(Buffer.from(JSON.stringify(text).slice(1, -1)));
  }
  const seen = new Set<string>();
  const out: Buffer[] = [];
  for (const f of forms) {
    if (f.length === 0) continue;
    const key = f.toString('latin1');
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(f);
  }
  return out.sort((a, b) => b.length - a.length);
}

export class Scrubber {
  private readonly needles: Buffer[];
  private readonly replacement: Buffer;
  readonly maxLen: number;

  constructor(needles: readonly Buffer[], label: string) {
    this.needles = needles.filter((n) => n.length > 0);
    this.replacement = Buffer.from(`[REDACTED:${label}]`);
    this.maxLen = Math.max(0, ...this.needles.map((n) => n.length));
  }

  /** Replaces every needle in `s`. */
  scrubString(s: string): string {
    if (this.needles.length === 0) return s;
    const buf = Buffer.from(s, 'utf8');
    const { out } = this.scan(buf, buf.length, true);
    return out.toString('utf8');
  }

  /**
   * Replaces complete matches in `buf[0, end)`. Returns the scrubbed output for bytes that
   * can no longer be part of a match, and how many input bytes it covers; with `final`
   * everything is covered.
   */
  private scan(buf: Buffer, end: number, final: boolean): { out: Buffer; consumed: number } {
    // Bytes from `safe` on may start a match that continues in the next chunk.
    const safe = final ? end : end - this.partialTail(buf, end);
    const parts: Buffer[] = [];
    let pos = 0;
    const next = this.needles.map((n) => buf.indexOf(n, 0));
    for (;;) {
      let best = -1;
      let bestLen = 0;
      for (let i = 0; i < this.needles.length; i++) {
        let at = next[i]!;
        if (at !== -1 && at < pos) at = next[i] = buf.indexOf(this.needles[i]!, pos);
        if (at === -1 || at + this.needles[i]!.length > end) continue;
        if (best === -1 || at < best || (at === best && this.needles[i]!.length > bestLen)) {
          best = at;
          bestLen = this.needles[i]!.length;
        }
      }
      // A complete match starting in the held-back tail is found again with the next chunk.
      if (best === -1 || best >= safe) break;
      parts.push(buf.subarray(pos, best), this.replacement);
      pos = best + bestLen;
    }
    const cut = Math.max(pos, safe);
    parts.push(buf.subarray(pos, cut));
    return { out: Buffer.concat(parts), consumed: cut };
  }

  /**
   * The length of the longest suffix of `buf[0, end)` that is a proper prefix of a needle:
   * only those bytes must wait for the next chunk. Holding back less than a full needle
   * length keeps streams (server-sent events) flowing: a chunk that ends cleanly is passed
   * on at once.
   */
  private partialTail(buf: Buffer, end: number): number {
    let longest = 0;
    for (const n of this.needles) {
      for (let k = Math.min(n.length - 1, end); k > longest; k--) {
        if (buf.compare(n, 0, k, end - k, end) === 0) {
          longest = k;
          break;
        }
      }
    }
    return longest;
  }

  /** A Transform that scrubs a byte stream. */
  stream(): Transform {
    let pending: Buffer = Buffer.alloc(0);
    const scan = (buf: Buffer, final: boolean): { out: Buffer; consumed: number } => this.scan(buf, buf.length, final);
    const empty = this.needles.length === 0;
    return new Transform({
      transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
        if (empty) return cb(null, chunk);
        const buf = pending.length ? Buffer.concat([pending, chunk]) : chunk;
        const { out, consumed } = scan(buf, false);
        pending = Buffer.from(buf.subarray(consumed));
        if (out.length) this.push(out);
        cb();
      },
      flush(cb: TransformCallback) {
        if (!empty && pending.length) {
          const { out } = scan(pending, true);
          if (out.length) this.push(out);
        }
        pending = Buffer.alloc(0);
        cb();
      },
    });
  }

  /** Zeroes the needles (call when the request is over). */
  wipe(): void {
    for (const n of this.needles) n.fill(0);
  }
}
