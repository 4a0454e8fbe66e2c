/**
 * Untrusted text → text that is safe to show on a terminal or in the UI.
 *
 * Program paths, argv, cwd, script names, agent hints and purposes come from processes
 * the host does not trust. Printed raw, an ESC sequence or a CR that returns to column 0
 * can rewrite what the human reads ("claude ✓ known" over the real program), a bidi
 * override (U+202E) can reverse it, and zero-width characters can make two different
 * names look the same. So every character that moves the cursor, changes the terminal's
 * state, reorders text or is invisible is replaced by a visible escape:
 *
 * - C0 controls and DEL → their Control Pictures (ESC → ␛, CR → ␍, LF → ␊, DEL → ␡),
 *   one column wide each so tables stay aligned;
 * - C1 controls (0x80–0x9F, 0x9B is a one-byte CSI), bidi controls (U+202A–U+202E,
 *   U+2066–U+2069, U+200E/U+200F, U+061C), every other format character (zero-width
 *   space/joiners, U+2060–U+2064, U+FEFF, soft hyphen, tag characters), line and paragraph
 *   separators, lone surrogates and the invisible fillers and variation selectors listed
 *   below → `\xNN`, `\uXXXX` or `\u{XXXXX}` written out.
 *
 * The result is also capped in length (with a trailing …) so a huge argv cannot flood a
 * prompt. Escaping is idempotent: every escape is made of printable characters, so
 * sanitizing twice changes nothing. Pure, no imports: shared by the CLI, the daemon and
 * the desktop view models.
 */

/** Default cap for one-line fields (a path is at most 4096 bytes on Linux; most are far shorter). */
export const DISPLAY_LINE_MAX = 1024;
/** Default cap for multi-line text. */
export const DISPLAY_TEXT_MAX = 8192;
const ELLIPSIS = '…';

// General categories: Cc controls (C0, DEL, C1), Cf format (bidi, zero-width, tags, …),
// Zl/Zp line and paragraph separators, Cs lone surrogates. The explicit ranges are
// invisible characters of other categories: the combining grapheme joiner, Hangul and
// halfwidth fillers, Khmer inherent vowels, Mongolian variation selectors, and the
// variation selectors (which can also smuggle data past a reader). Each is tested one code
// point at a time, so combining characters in the class are intended.
// eslint-disable-next-line no-misleading-character-class
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u3164\uffa0\ufe00-\ufe0f\u{e0100}-\u{e01ef}]/u;

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

/** The visible stand-in for one unsafe code point. */
function escapeCodePoint(cp: number): string {
  if (cp < 0x20) return String.fromCharCode(0x2400 + cp); // ␀ … ␟
  if (cp === 0x7f) return '\u2421'; // ␡
  if (cp <= 0xff) return `\\x${hex(cp, 2)}`;
  if (cp <= 0xffff) return `\\u${hex(cp, 4)}`;
  return `\\u{${hex(cp, 5)}}`;
}

export interface SanitizeOptions {
  /** Keep LF and TAB as they are (multi-line text); everything else is still escaped. */
  multiline?: boolean;
  /** Maximum length in code points, ellipsis included. */
  max?: number;
}

/**
 * Makes an untrusted string safe to print or render. Never throws; `null`/`undefined`
 * come back as ''.
 */
export function sanitizeForDisplay(input: string | null | undefined, opts: SanitizeOptions = {}): string {
  if (input === null || input === undefined) return '';
  const max = Math.max(1, Math.floor(opts.max ?? (opts.multiline ? DISPLAY_TEXT_MAX : DISPLAY_LINE_MAX)));
  let out = '';
  let count = 0;
  // Length (in UTF-16 units) of `out` at the last point where an ellipsis still fits.
  let fitsWithEllipsis = 0;
  for (const ch of String(input)) {
    const cp = ch.codePointAt(0)!;
    const keep = opts.multiline === true && (cp === 0x0a || cp === 0x09);
    const piece = keep || !UNSAFE.test(ch) ? ch : escapeCodePoint(cp);
    // An escape is ASCII or one BMP character; a kept character is one code point.
    const width = piece === ch ? 1 : piece.length;
    if (count + width > max) return out.slice(0, fitsWithEllipsis) + ELLIPSIS;
    out += piece;
    count += width;
    if (count <= max - 1) fitsWithEllipsis = out.length;
  }
  return out;
}

/** One-line fields (names, paths, argv elements, purposes): LF and TAB are escaped too. */
export function sanitizeLine(input: string | null | undefined, max = DISPLAY_LINE_MAX): string {
  return sanitizeForDisplay(input, { max });
}

/** Like sanitizeLine, but keeps `null` as `null` (for optional view-model fields). */
export function sanitizeOptional(input: string | null, max = DISPLAY_LINE_MAX): string | null {
  return input === null ? null : sanitizeLine(input, max);
}

/** Whether a string would be changed by sanitizeLine (for tests and assertions). */
export function hasUnsafeText(input: string): boolean {
  for (const ch of input) if (UNSAFE.test(ch)) return true;
  return false;
}

// What JSON.stringify leaves raw but a terminal or a bidi renderer acts on (it already
// escapes U+0000–U+001F and lone surrogates). Per code unit: astral format characters
// (tags) become their two surrogate escapes.
const JSON_UNSAFE = /[\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]|\udb40[\udc00-\udc7f]/g;

/**
 * JSON text (from JSON.stringify) with every remaining control, bidi and invisible
 * character written as a `\uXXXX` escape. Lossless: inside JSON strings an escape means
 * the same character, and such characters never occur outside strings.
 */
export function escapeJsonForTerminal(json: string): string {
  return json.replace(JSON_UNSAFE, (s) =>
    s
      .split('')
      .map((unit) => `\\u${hex(unit.charCodeAt(0), 4)}`)
      .join(''),
  );
}
