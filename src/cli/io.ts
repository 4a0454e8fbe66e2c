/**
 * Terminal and stdin I/O for the CLI: no-echo prompts, `--password-stdin` /
 * `--value-stdin`, and the one-line error format. Passwords and values are read into
 * Buffers and never echoed or logged.
 */
import fs from 'node:fs';
import tty from 'node:tty';
import { AkcError } from '../shared/errors.js';
import { escapeJsonForTerminal, sanitizeLine } from '../shared/sanitize.js';

const MAX_STDIN_BYTES = 1024 * 1024;
/** The vault refuses shorter master passwords (core/vault/vault.ts); checked here before "Repeat it". */
const MIN_PASSWORD_CHARS = 8;

type TtyInput = NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };

/** The controlling terminal, opened apart from stdin (for a prompt while stdin carries data). */
export interface Terminal {
  input: TtyInput;
  output: NodeJS.WritableStream;
  close(): void;
}

export interface Io {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  stdin: TtyInput;
  /** Opens the controlling terminal, or null when there is none. */
  openTerminal?: () => Terminal | null;
}

export const processIo: Io = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, openTerminal: openDevTty };

/** /dev/tty, as ssh and sudo use it; null without a controlling terminal (a service, CI, setsid). */
export function openDevTty(): Terminal | null {
  if (process.platform === 'win32') return null;
  let readFd = -1;
  let writeFd = -1;
  try {
    readFd = fs.openSync('/dev/tty', 'r');
    writeFd = fs.openSync('/dev/tty', 'w');
    if (!tty.isatty(readFd)) throw new Error('not a terminal');
  } catch {
    for (const fd of [readFd, writeFd]) if (fd !== -1) fs.closeSync(fd);
    return null;
  }
  const input = new tty.ReadStream(readFd);
  const output = new tty.WriteStream(writeFd);
  return {
    input,
    output,
    close: () => {
      input.destroy();
      output.destroy();
    },
  };
}

/** Counts UTF-8 code points without decoding into an immutable JS string. */
function utf8Chars(buf: Buffer): number {
  let chars = 0;
  for (const byte of buf) if ((byte & 0xc0) !== 0x80) chars += 1;
  return chars;
}

/** Per input stream: stdin can be read only once, but each Io (a test, an in-process run) has its own. */
const stdinCache = new WeakMap<object, Promise<Buffer>>();

/** Reads all of stdin once (bounded). */
function readAllStdin(io: Io): Promise<Buffer> {
  const cached = stdinCache.get(io.stdin);
  if (cached) return cached;
  const read = new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    io.stdin.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (total > MAX_STDIN_BYTES) {
        reject(new AkcError('INVALID_ARGUMENT', `standard input is larger than ${MAX_STDIN_BYTES} bytes`));
        io.stdin.pause();
        return;
      }
      chunks.push(chunk);
    });
    io.stdin.on('end', () => {
      const all = Buffer.concat(chunks);
      for (const c of chunks) c.fill(0);
      resolve(all);
    });
    io.stdin.on('error', (cause) => reject(new AkcError('IO', 'failed to read standard input', { cause })));
  });
  stdinCache.set(io.stdin, read);
  return read;
}

/** Splits stdin into the first line and the rest. */
function splitFirstLine(all: Buffer): { first: Buffer; rest: Buffer } {
  const nl = all.indexOf(0x0a);
  if (nl === -1) return { first: all, rest: Buffer.alloc(0) };
  let end = nl;
  if (end > 0 && all[end - 1] === 0x0d) end -= 1;
  return { first: all.subarray(0, end), rest: all.subarray(nl + 1) };
}

/** Removes exactly one trailing newline (`\n` or `\r\n`), as `echo`, heredocs and editors add one. */
function trimOneNewline(buf: Buffer): Buffer {
  if (buf.length && buf[buf.length - 1] === 0x0a) {
    const end = buf.length >= 2 && buf[buf.length - 2] === 0x0d ? buf.length - 2 : buf.length - 1;
    return buf.subarray(0, end);
  }
  return buf;
}

export interface SecretInputOptions {
  passwordStdin: boolean;
  valueStdin: boolean;
  /** --keep-newline: the value from stdin keeps its trailing newline. */
  keepNewline?: boolean;
}

/**
 * Reads what the command needs from stdin: with --password-stdin the first line is the
 * password; with --value-stdin the value is the rest (or all of stdin without a password).
 */
export class InputReader {
  constructor(
    private readonly io: Io,
    private readonly opts: SecretInputOptions,
  ) {}

  async password(prompt = 'Master password: '): Promise<Buffer> {
    if (this.opts.passwordStdin) {
      const { first } = splitFirstLine(await readAllStdin(this.io));
      if (first.length === 0)
        throw new AkcError('INVALID_ARGUMENT', 'no password on standard input (--password-stdin reads its first line)');
      return Buffer.from(first);
    }
    return this.prompt(prompt, 'the password');
  }

  /**
   * With --password-stdin: line 2 of stdin (`akc passwd` reads the new password there).
   * Independent of --value-stdin.
   */
  async secondStdinLine(what: string): Promise<Buffer> {
    const { rest } = splitFirstLine(await readAllStdin(this.io));
    const { first: line } = splitFirstLine(rest);
    if (line.length === 0) throw new AkcError('INVALID_ARGUMENT', `no ${what} on line 2 of standard input`);
    return Buffer.from(line);
  }

  /** A new password, asked twice on a terminal. */
  async newPassword(prompt = 'New master password: '): Promise<Buffer> {
    if (this.opts.passwordStdin) return this.password();
    const first = await this.prompt(prompt, 'the password');
    // Said before "Repeat it", not after both are typed.
    if (utf8Chars(first) < MIN_PASSWORD_CHARS) {
      first.fill(0);
      throw new AkcError('INVALID_ARGUMENT', `the master password must have at least ${MIN_PASSWORD_CHARS} characters`);
    }
    const again = await this.prompt('Repeat it: ', 'the password');
    try {
      if (!first.equals(again)) throw new AkcError('INVALID_ARGUMENT', 'the two passwords do not match');
    } finally {
      again.fill(0);
    }
    return first;
  }

  async value(name: string): Promise<Buffer> {
    if (this.opts.valueStdin) {
      const all = await readAllStdin(this.io);
      const body = this.opts.passwordStdin ? splitFirstLine(all).rest : all;
      const value = Buffer.from(this.opts.keepNewline ? body : trimOneNewline(body));
      if (value.length === 0) throw new AkcError('INVALID_ARGUMENT', 'no value on standard input');
      return value;
    }
    return this.prompt(`Value for ${name}: `, 'the value');
  }

  /**
   * A yes/no question on the terminal (answer echoed; only "y"/"yes" is yes). Asked where
   * the password prompt would be: stdin when it is a terminal, else the controlling terminal
   * when stdin carries only the value. Null when there is no terminal to ask on.
   */
  async confirm(question: string): Promise<boolean | null> {
    const { stdin, stderr } = this.io;
    if (stdin.isTTY) return yes(await readLine(stdin, stderr, question));
    if (this.opts.valueStdin && !this.opts.passwordStdin) {
      const terminal = this.io.openTerminal?.() ?? null;
      if (!terminal) return null;
      try {
        return yes(await readLine(terminal.input, terminal.output, question));
      } finally {
        terminal.close();
      }
    }
    return null;
  }

  /**
   * No-echo prompt on the terminal. When stdin carries the value (`--value-stdin < keyfile`)
   * the password is asked on the controlling terminal instead, as ssh and sudo do.
   */
  private async prompt(text: string, what: string): Promise<Buffer> {
    const { stdin, stderr } = this.io;
    if (stdin.isTTY && stdin.setRawMode) return readHidden(stdin, stderr, text);
    if (what === 'the password' && this.opts.valueStdin && !this.opts.passwordStdin) {
      const terminal = this.io.openTerminal?.() ?? null;
      if (terminal?.input.setRawMode) {
        try {
          return await readHidden(terminal.input, terminal.output, text);
        } finally {
          terminal.close();
        }
      }
      terminal?.close();
    }
    throw new AkcError('INVALID_ARGUMENT', `no terminal to read ${what} from`, {
      hint: what === 'the value' ? 'pass --value-stdin and pipe the value in' : 'pass --password-stdin and pipe the password in',
    });
  }
}

const yes = (answer: string): boolean => /^\s*y(es)?\s*$/i.test(answer);

/** Reads one echoed line from a terminal (cooked mode: the terminal echoes and edits it). */
function readLine(input: NodeJS.ReadableStream, output: NodeJS.WritableStream, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let line = '';
    output.write(text);
    input.resume();
    const done = (err: Error | null): void => {
      input.removeListener('data', onData);
      input.removeListener('end', onEnd);
      input.pause();
      if (err) reject(err);
      else resolve(line);
    };
    const onData = (chunk: Buffer | string): void => {
      const s = chunk.toString();
      const nl = s.search(/[\r\n]/);
      if (s.includes('\u0003')) return done(new AkcError('INVALID_ARGUMENT', 'cancelled'));
      line += nl === -1 ? s : s.slice(0, nl);
      if (nl !== -1) done(null);
    };
    // Ctrl-D on an empty line: no answer, which is "no".
    const onEnd = (): void => done(null);
    input.on('data', onData);
    input.on('end', onEnd);
  });
}

/** Reads a line from a TTY in raw mode without echoing it. Ctrl-C aborts. */
function readHidden(
  stdin: NodeJS.ReadableStream & { setRawMode?: (raw: boolean) => unknown },
  stderr: NodeJS.WritableStream,
  text: string,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(256);
    let len = 0;
    // Raw mode (no echo, Ctrl-C as data) before the prompt appears, so nothing typed
    // right after the prompt is ever echoed.
    stdin.setRawMode!(true);
    stderr.write(text);
    stdin.resume();
    const done = (err: Error | null): void => {
      stdin.removeListener('data', onData);
      stdin.setRawMode!(false);
      stdin.pause();
      stderr.write('\n');
      if (err) {
        buf.fill(0);
        reject(err);
      } else {
        const out = Buffer.from(buf.subarray(0, len));
        buf.fill(0);
        resolve(out);
      }
    };
    const onData = (chunk: Buffer): void => {
      for (const byte of chunk) {
        if (byte === 0x0d || byte === 0x0a) return done(null);
        if (byte === 0x03) return done(new AkcError('INVALID_ARGUMENT', 'cancelled'));
        if (byte === 0x04 && len === 0) return done(new AkcError('INVALID_ARGUMENT', 'cancelled'));
        if (byte === 0x7f || byte === 0x08) {
          // Backspace: drop the last UTF-8 character.
          while (len > 0 && (buf[len - 1]! & 0xc0) === 0x80) len--;
          if (len > 0) len--;
          continue;
        }
        if (byte < 0x20) continue;
        if (len === buf.length) {
          const bigger = Buffer.alloc(buf.length * 2);
          buf.copy(bigger);
          buf.fill(0);
          buf = bigger;
        }
        buf[len++] = byte;
      }
      chunk.fill(0);
    };
    stdin.on('data', onData);
  });
}

export function printError(io: Io, err: unknown): void {
  if (err instanceof AkcError) {
    io.stderr.write(`akc: error: ${oneLine(err.message)}\n`);
    if (err.hint) io.stderr.write(`akc: hint: ${oneLine(err.hint)}\n`);
    return;
  }
  const message = err instanceof Error ? err.message : String(err);
  io.stderr.write(`akc: error: ${oneLine(message)}\n`);
}

/** One line, and inert on a terminal: messages can quote names and paths from agents. */
function oneLine(s: string): string {
  return sanitizeLine(s.replace(/\s*\n\s*/g, ' '), 4096);
}

export function writeJson(io: Io, value: unknown): void {
  // Lossless: JSON escapes keep what a terminal would act on (C1, bidi, zero-width) inert.
  io.stdout.write(escapeJsonForTerminal(JSON.stringify(value, null, 2)) + '\n');
}

/** Renders rows as aligned columns. Cells may hold what agents chose (names, paths, purposes): sanitized. */
export function table(headers: string[], untrusted: string[][]): string {
  const rows = untrusted.map((r) => r.map((c) => sanitizeLine(c)));
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

/** A time as ms since the epoch, or as the ISO string the JSON rows carry (either mode prints alike). */
export function formatTime(time: number | string | null | undefined): string {
  const ms = typeof time === 'string' ? Date.parse(time) : time;
  if (!ms) return '-';
  return new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
}
