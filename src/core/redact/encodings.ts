/**
 * The forms a secret value takes when a program prints it, and the byte patterns that
 * find each form — the one list shared by `akc run`'s redactor, the proxy's scrubber (and
 * so MCP's http_request), MCP's run_with_secrets (through `akc run`) and `akc scan`:
 *
 * - raw, base64, base64url, hex (lower and upper case) and URL-encoded;
 * - the text escapes of escapes.ts: JSON, shell, YAML and Python repr string bodies;
 * - for a value of several lines (an SSH or TLS key), each line on its own, raw and
 *   escaped, so a key printed line by line, indented (YAML block, heredoc), with CRLF
 *   line ends, or one line only, is still found. Lines shorter than MIN_LINE_LENGTH and
 *   PEM armour lines (`-----BEGIN … KEY-----`: the same in every key) are left out;
 * - a value with a trailing newline or surrounding blanks, also trimmed (`$(cat key)`,
 *   `.strip()`).
 *
 * Base64 inside a longer base64 text depends on alignment: the value's first byte may
 * sit at offset 0, 1 or 2 of a 3-byte group, and each offset gives different characters.
 * For each offset k we encode (k zero bytes + value) and keep only the characters whose
 * 6 bits come entirely from the value: from index ceil(8k/6) up to floor(8(k+n)/6). The
 * 1-2 edge characters mixing in unknown neighbouring bits (and any padding) are dropped,
 * so those "core" patterns match wherever the value was encoded, whatever surrounds it.
 * The standalone encodings (with and without padding) are patterns too, so a value that
 * was encoded on its own is redacted whole, padding included.
 */
import { textEscapes, type EscapeName } from './escapes.js';

export type EncodingName = 'raw' | 'base64' | 'base64url' | 'hex' | 'HEX' | 'url' | EscapeName;

export interface EncodedForm {
  encoding: EncodingName;
  bytes: Buffer;
  /** Set when the form is one line of a multi-line value: its 1-based line number. */
  line?: number;
}

/**
 * Derived forms shorter than this are dropped (an alignment core of a very short value
 * is a few characters that would match everywhere). The raw value and its full
 * encodings are always kept.
 */
export const MIN_DERIVED_LENGTH = 8;

/**
 * Lines of a multi-line value shorter than this (after trimming) get no pattern of their
 * own: a short line (`AAAA`, `==`, `}`) would match all over unrelated output.
 */
export const MIN_LINE_LENGTH = 8;

const UNRESERVED = new Uint8Array(256);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.!~*'()") UNRESERVED[c.charCodeAt(0)] = 1;
const HEX_UPPER = '0123456789ABCDEF';

/** encodeURIComponent over bytes (identical for UTF-8 text; also defined for binary). */
export function urlEncode(value: Uint8Array): Buffer {
  let n = 0;
  for (const b of value) n += UNRESERVED[b] ? 1 : 3;
  const out = Buffer.allocUnsafe(n);
  let w = 0;
  for (const b of value) {
    if (UNRESERVED[b]) out[w++] = b;
    else {
      out[w++] = 0x25;
      out[w++] = HEX_UPPER.charCodeAt(b >> 4);
      out[w++] = HEX_UPPER.charCodeAt(b & 15);
    }
  }
  return out;
}

const B64 = Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/', 'latin1');
const B64URL = Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_', 'latin1');

/**
 * Base64 over bytes, into a Buffer (no intermediate JS string, so the result can be
 * zeroed). `pad` adds '=' to a multiple of 4.
 */
export function base64Bytes(value: Uint8Array, alphabet: 'base64' | 'base64url', pad: boolean): Buffer {
  const table = alphabet === 'base64' ? B64 : B64URL;
  const n = value.length;
  const full = Math.floor(n / 3);
  const rest = n - full * 3;
  const len = full * 4 + (rest === 0 ? 0 : pad ? 4 : rest + 1);
  const out = Buffer.alloc(len);
  let w = 0;
  let i = 0;
  for (let g = 0; g < full; g++, i += 3) {
    const x = (value[i]! << 16) | (value[i + 1]! << 8) | value[i + 2]!;
    out[w++] = table[x >> 18]!;
    out[w++] = table[(x >> 12) & 63]!;
    out[w++] = table[(x >> 6) & 63]!;
    out[w++] = table[x & 63]!;
  }
  if (rest > 0) {
    const x = (value[i]! << 16) | (rest === 2 ? value[i + 1]! << 8 : 0);
    out[w++] = table[x >> 18]!;
    out[w++] = table[(x >> 12) & 63]!;
    if (rest === 2) out[w++] = table[(x >> 6) & 63]!;
    while (pad && w < len) out[w++] = 0x3d;
  }
  return out;
}

/** Hex over bytes into a Buffer. */
export function hexBytes(value: Uint8Array, upper: boolean): Buffer {
  const digits = upper ? '0123456789ABCDEF' : '0123456789abcdef';
  const out = Buffer.alloc(value.length * 2);
  for (let i = 0; i < value.length; i++) {
    out[2 * i] = digits.charCodeAt(value[i]! >> 4);
    out[2 * i + 1] = digits.charCodeAt(value[i]! & 15);
  }
  return out;
}

/** The alignment cores of the base64 (or base64url) encoding of `value`, offsets 0-2. */
export function base64Cores(value: Uint8Array, alphabet: 'base64' | 'base64url'): Buffer[] {
  const cores: Buffer[] = [];
  for (let k = 0; k < 3; k++) {
    const shifted = Buffer.alloc(k + value.length);
    shifted.set(value, k);
    const text = base64Bytes(shifted, alphabet, false);
    shifted.fill(0);
    const from = Math.ceil((8 * k) / 6);
    const to = Math.floor((8 * (k + value.length)) / 6);
    if (to > from) cores.push(Buffer.from(text.subarray(from, to)));
    text.fill(0);
  }
  return cores;
}

const isBlank = (b: number): boolean => b === 0x20 || b === 0x09 || b === 0x0d || b === 0x0a;
const BEGIN = Buffer.from('-----BEGIN ');
const END = Buffer.from('-----END ');
const DASHES = Buffer.from('-----');

/** `-----BEGIN … -----` or `-----END … -----`: the same in every key of a kind, so not secret. */
function isArmour(line: Buffer): boolean {
  const starts = (p: Buffer): boolean => line.length >= p.length && line.subarray(0, p.length).equals(p);
  return (starts(BEGIN) || starts(END)) && line.length > BEGIN.length + DASHES.length && line.subarray(-DASHES.length).equals(DASHES);
}

/** The value's lines, blanks trimmed, empty ones dropped; views into `value`, not copies. */
export function valueLines(value: Uint8Array): Buffer[] {
  const buf = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  const lines: Buffer[] = [];
  for (let start = 0; start <= buf.length;) {
    let end = buf.indexOf(0x0a, start);
    if (end === -1) end = buf.length;
    let a = start;
    let b = end;
    while (a < b && isBlank(buf[a]!)) a++;
    while (b > a && isBlank(buf[b - 1]!)) b--;
    if (b > a) lines.push(buf.subarray(a, b));
    start = end + 1;
  }
  return lines;
}

/**
 * Every distinct form of `value` worth looking for. The caller zeroes the returned
 * buffers (nothing here goes through a JS string, so nothing is left behind).
 */
export function encodedForms(value: Uint8Array): EncodedForm[] {
  const forms: EncodedForm[] = [];
  const add = (encoding: EncodingName, bytes: Buffer, always = false, line?: number): void => {
    if (bytes.length === 0 || (!always && bytes.length < MIN_DERIVED_LENGTH) || forms.some((f) => f.bytes.equals(bytes))) {
      bytes.fill(0);
      return;
    }
    forms.push(line === undefined ? { encoding, bytes } : { encoding, bytes, line });
  };
  /** The text and its escapes (an escape is never shorter than the text it escapes). */
  const addText = (text: Uint8Array, always: boolean, line?: number): void => {
    add('raw', Buffer.from(text), always, line);
    for (const e of textEscapes(text)) add(e.encoding, e.bytes, always, line);
  };
  addText(value, true);
  for (const alphabet of ['base64', 'base64url'] as const) {
    add(alphabet, base64Bytes(value, alphabet, true), true);
    add(alphabet, base64Bytes(value, alphabet, false), true);
    for (const core of base64Cores(value, alphabet)) add(alphabet, core);
  }
  add('hex', hexBytes(value, false), true);
  add('HEX', hexBytes(value, true), true);
  add('url', urlEncode(value), true);
  const lines = valueLines(value);
  if (lines.length === 1) {
    if (lines[0]!.length < value.length && lines[0]!.length >= MIN_LINE_LENGTH) addText(lines[0]!, false);
  } else {
    // Numbered among the value's non-empty lines: "line 2" is the second line a reader sees.
    lines.forEach((l, i) => {
      if (l.length >= MIN_LINE_LENGTH && !isArmour(l)) addText(l, false, i + 1);
    });
  }
  return forms;
}
