/**
 * The forms a secret value takes when a program prints it inside a quoted string: the
 * text between the quotes, so it matches whatever quotes, key or indentation surround it.
 *
 * - JSON: JSON.stringify / serde / json.dumps(ensure_ascii=False); Python's json.dumps
 *   default (every non-ASCII character as \uXXXX, astral ones as a surrogate pair);
 *   upper-case \uXXXX (Jackson); Go's HTML-safe encoder (<, >, & and U+2028/9 as \u…);
 *   `akc inject --json` (U+2028/9 escaped); PHP (`\/`, non-ASCII escaped); and a JSON
 *   string inside another JSON string (a log line holding a JSON document).
 * - Shell: single quotes ('…'\''…' and '…'"'"'…', also bash's ${v@Q}), double quotes
 *   (\ " $ ` escaped), bash `printf %q` (backslashes before metacharacters) and its
 *   $'…' form for values with control characters (UTF-8 kept, or every non-ASCII byte as
 *   octal in the C locale).
 * - YAML: double-quoted scalars as `akc inject --yaml` writes them (Unicode kept), as
 *   PyYAML writes them (ASCII only: \xXX, \uXXXX, \UXXXXXXXX) and with allow_unicode
 *   (astral characters still escaped); single-quoted scalars ('').
 * - Python: repr() and ascii() of a str (with \' or with the quote kept, as Python picks
 *   double quotes for a value holding only single ones), and repr() of bytes.
 *
 * Everything works over bytes and code points into Buffers the caller zeroes: the value
 * is never made into a JS string (a string cannot be wiped), except one character at a
 * time to ask whether a non-ASCII character is printable (Python's rule for repr).
 * A value that is not valid UTF-8 gets only the byte-level forms (bytes repr, $'…' octal).
 *
 * Not covered (README "What redaction does not catch"): escapes split by line folding
 * (PyYAML folds long double-quoted scalars with a trailing `\`), other languages' quoting
 * rules when they differ from these, and mixed forms (part escaped, part not).
 */

export type EscapeName = 'json' | 'shell' | 'yaml' | 'repr';

export interface Escaped {
  encoding: EscapeName;
  bytes: Buffer;
}

/** Calls `put` with each UTF-8 byte of code point `cp`. */
function utf8Bytes(cp: number, put: (b: number) => void): void {
  if (cp < 0x80) put(cp);
  else if (cp < 0x800) {
    put(0xc0 | (cp >> 6));
    put(0x80 | (cp & 63));
  } else if (cp < 0x10000) {
    put(0xe0 | (cp >> 12));
    put(0x80 | ((cp >> 6) & 63));
    put(0x80 | (cp & 63));
  } else {
    put(0xf0 | (cp >> 18));
    put(0x80 | ((cp >> 12) & 63));
    put(0x80 | ((cp >> 6) & 63));
    put(0x80 | (cp & 63));
  }
}

/** A growable byte buffer whose old storage is zeroed when it grows or is done. */
class Out {
  private buf = Buffer.alloc(64);
  private n = 0;

  byte(b: number): void {
    if (this.n === this.buf.length) {
      const next = Buffer.alloc(this.buf.length * 2);
      this.buf.copy(next);
      this.buf.fill(0);
      this.buf = next;
    }
    this.buf[this.n++] = b;
  }

  /** An escape sequence's fixed ASCII text (never value bytes). */
  ascii(s: string): void {
    for (let i = 0; i < s.length; i++) this.byte(s.charCodeAt(i));
  }

  utf8(cp: number): void {
    utf8Bytes(cp, (b) => this.byte(b));
  }

  hex(v: number, digits: number, upper: boolean): void {
    const table = upper ? '0123456789ABCDEF' : '0123456789abcdef';
    for (let d = digits - 1; d >= 0; d--) this.byte(table.charCodeAt((v >> (4 * d)) & 15));
  }

  octal3(b: number): void {
    this.byte(0x30 + ((b >> 6) & 7));
    this.byte(0x30 + ((b >> 3) & 7));
    this.byte(0x30 + (b & 7));
  }

  done(): Buffer {
    const out = Buffer.from(this.buf.subarray(0, this.n));
    this.buf.fill(0);
    return out;
  }
}

/** The code points of UTF-8 `bytes`, or null when they are not valid UTF-8. Zero it after use. */
export function utf8CodePoints(bytes: Uint8Array): Uint32Array | null {
  const out = new Uint32Array(bytes.length);
  let n = 0;
  for (let i = 0; i < bytes.length;) {
    const b = bytes[i]!;
    let cp: number;
    let len: number;
    let min: number;
    if (b < 0x80) [cp, len, min] = [b, 1, 0];
    else if (b >= 0xc2 && b < 0xe0) [cp, len, min] = [b & 0x1f, 2, 0x80];
    else if (b >= 0xe0 && b < 0xf0) [cp, len, min] = [b & 0x0f, 3, 0x800];
    else if (b >= 0xf0 && b < 0xf5) [cp, len, min] = [b & 0x07, 4, 0x10000];
    else return fail(out);
    if (i + len > bytes.length) return fail(out);
    for (let j = 1; j < len; j++) {
      const c = bytes[i + j]!;
      if ((c & 0xc0) !== 0x80) return fail(out);
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return fail(out);
    out[n++] = cp;
    i += len;
  }
  return out.subarray(0, n);
}

function fail(out: Uint32Array): null {
  out.fill(0);
  return null;
}

// --- JSON --------------------------------------------------------------------------

interface JsonStyle {
  /** Every character above 0x7E as \uXXXX (Python's ensure_ascii, PHP). */
  ascii?: boolean;
  /** \u001F rather than \u001f. */
  upper?: boolean;
  /** <, > and & as \u003c… (Go). */
  html?: boolean;
  /** U+2028 and U+2029 as \u2028 (Go, `akc inject --json`). */
  lineSeparators?: boolean;
  /** / as \/ (PHP). */
  slash?: boolean;
  /** Also escaped a second time (a JSON string inside a JSON string). */
  again?: boolean;
}

const JSON_STYLES: JsonStyle[] = [
  { again: true },
  { ascii: true, again: true },
  { ascii: true, upper: true },
  { upper: true },
  { lineSeparators: true },
  { html: true, lineSeparators: true },
  { ascii: true, slash: true },
];

const JSON_SHORT: Record<number, string> = { 0x22: '\\"', 0x5c: '\\\\', 0x08: '\\b', 0x0c: '\\f', 0x0a: '\\n', 0x0d: '\\r', 0x09: '\\t' };

function uEscape(o: Out, c: number, upper: boolean): void {
  if (c >= 0x10000) {
    const v = c - 0x10000;
    uEscape(o, 0xd800 + (v >> 10), upper);
    uEscape(o, 0xdc00 + (v & 0x3ff), upper);
    return;
  }
  o.ascii('\\u');
  o.hex(c, 4, upper);
}

function json(cps: Uint32Array, s: JsonStyle): Buffer {
  const o = new Out();
  for (const c of cps) {
    const short = JSON_SHORT[c];
    if (short !== undefined) o.ascii(short);
    else if (
      c < 0x20 ||
      (s.ascii && c >= 0x7f) ||
      (s.html && (c === 0x3c || c === 0x3e || c === 0x26)) ||
      (s.lineSeparators && (c === 0x2028 || c === 0x2029))
    ) {
      uEscape(o, c, s.upper === true);
    } else if (s.slash && c === 0x2f) o.ascii('\\/');
    else o.utf8(c);
  }
  return o.done();
}

/** A JSON string body escaped again as a JSON string body (its `"` and `\`). */
function jsonAgain(body: Uint8Array): Buffer {
  const o = new Out();
  for (const b of body) {
    if (b === 0x22 || b === 0x5c) o.byte(0x5c);
    o.byte(b);
  }
  return o.done();
}

// --- Shell -------------------------------------------------------------------------

function singleQuoted(cps: Uint32Array, quote: string): Buffer {
  const o = new Out();
  for (const c of cps) {
    if (c === 0x27) o.ascii(quote);
    else o.utf8(c);
  }
  return o.done();
}

function doubleQuoted(cps: Uint32Array): Buffer {
  const o = new Out();
  for (const c of cps) {
    if (c === 0x5c || c === 0x22 || c === 0x24 || c === 0x60) o.byte(0x5c);
    o.utf8(c);
  }
  return o.done();
}

const BASH_SPECIAL = new Set([...' \t\n\'"\\|&;()<>!{}*[]?^$`,'].map((c) => c.charCodeAt(0)));

/** bash `printf %q` for a value without control characters (bash 5: sh_backslash_quote). */
function bashBackslash(cps: Uint32Array): Buffer {
  const o = new Out();
  for (let i = 0; i < cps.length; i++) {
    const c = cps[i]!;
    const prev = i === 0 ? -1 : cps[i - 1]!;
    if (BASH_SPECIAL.has(c) || (c === 0x23 && i === 0) || (c === 0x7e && (i === 0 || prev === 0x3d || prev === 0x3a))) o.byte(0x5c);
    o.utf8(c);
  }
  return o.done();
}

const ANSI_C: Record<number, string> = {
  0x07: '\\a',
  0x08: '\\b',
  0x09: '\\t',
  0x0a: '\\n',
  0x0b: '\\v',
  0x0c: '\\f',
  0x0d: '\\r',
  0x1b: '\\E',
  0x5c: '\\\\',
  0x27: "\\'",
};

/** glibc's iswprint() is false for controls, line and paragraph separators, unassigned characters. */
const BASH_NOT_PRINTABLE = /[\p{Cc}\p{Zl}\p{Zp}\p{Cn}]/u;

/**
 * The body of bash's $'…' over code points (UTF-8 locale: a printable non-ASCII character
 * is kept, a non-printable one written as the octal of each of its UTF-8 bytes).
 */
function ansiC(cps: Uint32Array): Buffer {
  const o = new Out();
  const octal = (b: number): void => {
    o.byte(0x5c);
    o.octal3(b);
  };
  for (const c of cps) {
    const named = ANSI_C[c];
    if (named !== undefined) o.ascii(named);
    else if (c < 0x20 || c === 0x7f) octal(c);
    else if (c >= 0x80 && BASH_NOT_PRINTABLE.test(String.fromCodePoint(c))) utf8Bytes(c, octal);
    else o.utf8(c);
  }
  return o.done();
}

/** The body of bash's $'…' over bytes (C locale: every non-ASCII byte as octal). */
function ansiCBytes(bytes: Uint8Array): Buffer {
  const o = new Out();
  for (const c of bytes) {
    const named = ANSI_C[c];
    if (named !== undefined) o.ascii(named);
    else if (c < 0x20 || c >= 0x7f) {
      o.byte(0x5c);
      o.octal3(c);
    } else o.byte(c);
  }
  return o.done();
}

// --- YAML --------------------------------------------------------------------------

/** YAML 1.2 double-quoted escapes by code point; `akc inject --yaml` writes with the same table. */
export const YAML_NAMED: Readonly<Record<number, string>> = {
  0x00: '\\0',
  0x07: '\\a',
  0x08: '\\b',
  0x09: '\\t',
  0x0a: '\\n',
  0x0b: '\\v',
  0x0c: '\\f',
  0x0d: '\\r',
  0x1b: '\\e',
  0x22: '\\"',
  0x5c: '\\\\',
  0x85: '\\N',
  0xa0: '\\_',
  0x2028: '\\L',
  0x2029: '\\P',
};

type YamlStyle = 'unicode' | 'ascii' | 'bmp';

/** The body of a YAML double-quoted scalar. */
function yamlDouble(cps: Uint32Array, style: YamlStyle): Buffer {
  const o = new Out();
  for (const c of cps) {
    const named = YAML_NAMED[c];
    const kept =
      style === 'ascii'
        ? c >= 0x20 && c <= 0x7e
        : (c >= 0x20 && c <= 0x7e) ||
          (c >= 0xa0 && c <= 0xd7ff) ||
          (c >= 0xe000 && c <= 0xfffd && c !== 0xfeff) ||
          (style === 'unicode' && c >= 0x10000);
    // PyYAML with allow_unicode keeps U+00A0; `akc inject --yaml` writes it as \_.
    if (named !== undefined && !(style === 'bmp' && c === 0xa0)) o.ascii(named);
    else if (kept) o.utf8(c);
    else if (c <= 0xff) {
      o.ascii('\\x');
      o.hex(c, 2, true);
    } else if (c <= 0xffff) {
      o.ascii('\\u');
      o.hex(c, 4, true);
    } else {
      o.ascii('\\U');
      o.hex(c, 8, true);
    }
  }
  return o.done();
}

function yamlSingle(cps: Uint32Array): Buffer {
  return singleQuoted(cps, "''");
}

// --- Python ------------------------------------------------------------------------

const NOT_PRINTABLE = /[\p{C}\p{Z}]/u;

/** Python's str.isprintable() for one character (its Unicode categories C* and Z*, except space). */
function printable(c: number): boolean {
  if (c < 0x80) return c >= 0x20 && c < 0x7f;
  return !NOT_PRINTABLE.test(String.fromCodePoint(c));
}

function pyEscape(o: Out, c: number, escapeQuote: boolean, asciiOnly: boolean): void {
  if (c === 0x5c) o.ascii('\\\\');
  else if (c === 0x27 && escapeQuote) o.ascii("\\'");
  else if (c === 0x09) o.ascii('\\t');
  else if (c === 0x0a) o.ascii('\\n');
  else if (c === 0x0d) o.ascii('\\r');
  else if (c < 0x80 ? c >= 0x20 && c < 0x7f : !asciiOnly && printable(c)) o.utf8(c);
  else if (c <= 0xff) {
    o.ascii('\\x');
    o.hex(c, 2, false);
  } else if (c <= 0xffff) {
    o.ascii('\\u');
    o.hex(c, 4, false);
  } else {
    o.ascii('\\U');
    o.hex(c, 8, false);
  }
}

function pyRepr(cps: Uint32Array, escapeQuote: boolean, asciiOnly: boolean): Buffer {
  const o = new Out();
  for (const c of cps) pyEscape(o, c, escapeQuote, asciiOnly);
  return o.done();
}

function pyBytesRepr(bytes: Uint8Array, escapeQuote: boolean): Buffer {
  const o = new Out();
  for (const b of bytes) pyEscape(o, b, escapeQuote, true);
  return o.done();
}

// --- All of them -------------------------------------------------------------------

/** Bytes that no form here escapes, wherever they stand. */
const PLAIN = new Uint8Array(256);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.+=:@%') PLAIN[c.charCodeAt(0)] = 1;

/**
 * Every text escape of `value` (duplicates and forms equal to the value included: the
 * caller drops them, keeping the first). The order names a form two styles share: JSON,
 * then Python, YAML, shell (Python's repr and bash's $'…' often agree). The caller
 * zeroes the returned buffers.
 */
export function textEscapes(value: Uint8Array): Escaped[] {
  const out: Escaped[] = [];
  // Most tokens (letters, digits, - _ . + = : @ %) read the same in every form: skip the work.
  if (value.every((b) => PLAIN[b] === 1)) return out;
  const add = (encoding: EscapeName, bytes: Buffer): void => void out.push({ encoding, bytes });
  const cps = utf8CodePoints(value);
  if (cps) {
    for (const style of JSON_STYLES) {
      const body = json(cps, style);
      add('json', body);
      if (style.again) add('json', jsonAgain(body));
    }
    for (const asciiOnly of [false, true]) for (const quote of [true, false]) add('repr', pyRepr(cps, quote, asciiOnly));
    for (const style of ['unicode', 'ascii', 'bmp'] as const) add('yaml', yamlDouble(cps, style));
    add('yaml', yamlSingle(cps));
    add('shell', singleQuoted(cps, "'\\''"));
    add('shell', singleQuoted(cps, `'"'"'`));
    add('shell', doubleQuoted(cps));
    add('shell', bashBackslash(cps));
    add('shell', ansiC(cps));
    cps.fill(0);
  }
  for (const quote of [true, false]) add('repr', pyBytesRepr(value, quote));
  add('shell', ansiCBytes(value));
  return out;
}
