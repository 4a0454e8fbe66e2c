/**
 * Incremental newline splitter for NDJSON streams, used by the host and the SDK alike.
 * Runs anywhere: only TextDecoder (a global in Node and browsers) is needed.
 *
 * Cost is linear in the input: complete lines inside a chunk are decoded straight from a
 * subarray; only a line split across chunks is buffered (as a list of pieces, joined once
 * when its newline arrives). The buffer never holds more than maxLineBytes + 1 bytes, so
 * a peer that never sends a newline cannot make us grow without bound.
 */

// shared is compiled without DOM or Node types; declare just what we use of the global.
declare const TextDecoder: new (label?: string, options?: { fatal?: boolean }) => { decode(input?: Uint8Array): string };

const LF = 0x0a;
const CR = 0x0d;

export interface LineSplitterOptions {
  /** Longest accepted line in bytes, excluding its `\n` or `\r\n` terminator. */
  maxLineBytes: number;
  /** A complete line, terminator removed. Empty lines are skipped. */
  onLine: (line: string) => void;
  /**
   * Called once per oversized line, as soon as it is known to be too long; the rest of
   * that line is discarded up to its newline. The caller decides whether to close().
   */
  onOverflow: () => void;
  /**
   * A line that is not valid UTF-8. When given, such a line is reported here instead of
   * onLine; without it, bad bytes decode as U+FFFD.
   */
  onInvalidUtf8?: () => void;
}

export class LineSplitter {
  private readonly opts: LineSplitterOptions;
  private readonly decoder: { decode(input?: Uint8Array): string };
  /** Pieces of the current, not yet terminated line. */
  private pieces: Uint8Array[] = [];
  private pending = 0;
  /** Inside an oversized line that was already reported: drop bytes until `\n`. */
  private discarding = false;
  private closed = false;

  constructor(opts: LineSplitterOptions) {
    if (!Number.isInteger(opts.maxLineBytes) || opts.maxLineBytes < 1) {
      throw new RangeError('maxLineBytes must be a positive integer');
    }
    this.opts = opts;
    this.decoder = new TextDecoder('utf-8', { fatal: opts.onInvalidUtf8 !== undefined });
  }

  /** Feeds bytes. Stops early if a callback calls close(). */
  push(chunk: Uint8Array): void {
    let start = 0;
    while (!this.closed && start < chunk.length) {
      const nl = chunk.indexOf(LF, start);
      if (nl === -1) {
        this.buffer(chunk.subarray(start));
        return;
      }
      const piece = chunk.subarray(start, nl);
      start = nl + 1;
      if (this.discarding) {
        this.discarding = false;
        continue;
      }
      this.finishLine(piece);
    }
  }

  /**
   * Ends the stream. A trailing line without a newline is incomplete (the peer went away
   * mid-message), so it is dropped; returns how many bytes were dropped.
   */
  end(): number {
    const dropped = this.pending;
    this.reset();
    this.closed = true;
    return dropped;
  }

  /** Stops delivering: later pushes are ignored, including the rest of the current chunk. */
  close(): void {
    this.reset();
    this.closed = true;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private buffer(piece: Uint8Array): void {
    if (this.discarding || piece.length === 0) return;
    // One byte of slack: a trailing `\r` may be the first half of a `\r\n` terminator.
    if (this.pending + piece.length > this.opts.maxLineBytes + 1) {
      this.overflow();
      this.discarding = true;
      return;
    }
    // Copy: the caller may reuse the chunk's memory after push() returns.
    this.pieces.push(piece.slice());
    this.pending += piece.length;
  }

  private finishLine(tail: Uint8Array): void {
    let line = tail;
    if (this.pending > 0) {
      line = new Uint8Array(this.pending + tail.length);
      let at = 0;
      for (const p of this.pieces) {
        line.set(p, at);
        at += p.length;
      }
      line.set(tail, at);
      this.reset();
    }
    const end = line.length > 0 && line[line.length - 1] === CR ? line.length - 1 : line.length;
    if (end > this.opts.maxLineBytes) {
      this.overflow();
      return;
    }
    if (end === 0) return;
    let text: string;
    try {
      text = this.decoder.decode(line.subarray(0, end));
    } catch {
      // Only thrown in fatal mode, i.e. when onInvalidUtf8 is set.
      this.opts.onInvalidUtf8?.();
      return;
    }
    this.opts.onLine(text);
  }

  private overflow(): void {
    this.reset();
    this.opts.onOverflow();
  }

  private reset(): void {
    this.pieces = [];
    this.pending = 0;
  }
}
