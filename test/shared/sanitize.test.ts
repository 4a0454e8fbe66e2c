import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { escapeJsonForTerminal, hasUnsafeText, sanitizeForDisplay, sanitizeLine, sanitizeOptional } from '../../src/shared/sanitize.js';

/** Nothing left that a terminal or a bidi renderer would act on. */
function assertInert(s: string): void {
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    assert.ok(cp >= 0x20 && cp !== 0x7f && !(cp >= 0x80 && cp <= 0x9f), `control U+${cp.toString(16)} left in ${JSON.stringify(s)}`);
    assert.ok(!/[\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u.test(ch), `format char U+${cp.toString(16)} left in ${JSON.stringify(s)}`);
  }
}

describe('sanitizeLine', () => {
  it('leaves ordinary text alone (paths, spaces, non-Latin scripts, emoji)', () => {
    for (const s of [
      '/usr/bin/node',
      'node agent.js',
      'deploy the “prod” db — ok?',
      'Überprüfung',
      'ключ',
      '密钥',
      'مفتاح',
      '🔑 key',
      '',
    ]) {
      assert.equal(sanitizeLine(s), s);
      assert.equal(hasUnsafeText(s), false);
    }
  });

  it('the red-team string: ESC, CSI erase-line and CR become visible, the text stays', () => {
    const attack = 'evil.js\x1b[2K\r  program  /usr/bin/claude ✓ known';
    const out = sanitizeLine(attack);
    assert.equal(out, 'evil.js␛[2K␍  program  /usr/bin/claude ✓ known');
    assertInert(out);
    assert.ok(out.startsWith('evil.js'), 'the real name is still first');
  });

  it('every C0 control and DEL become Control Pictures (one column each)', () => {
    for (let cp = 0; cp < 0x20; cp++) {
      const out = sanitizeLine(`a${String.fromCharCode(cp)}b`);
      assert.equal(out, `a${String.fromCharCode(0x2400 + cp)}b`, `U+${cp.toString(16)}`);
    }
    assert.equal(sanitizeLine('a\x7fb'), 'a␡b');
    assert.equal(sanitizeLine('bell\x07'), 'bell␇');
    assert.equal(sanitizeLine('a\nb\tc'), 'a␊b␉c');
  });

  it('every C1 control, 0x9B (one-byte CSI) included, is written out', () => {
    for (let cp = 0x80; cp <= 0x9f; cp++) {
      const out = sanitizeLine(`a${String.fromCharCode(cp)}2Kb`);
      assert.equal(out, `a\\x${cp.toString(16)}2Kb`);
      assertInert(out);
    }
  });

  it('bidi controls: embeddings, overrides, isolates, marks, the Arabic letter mark', () => {
    const bidi = [0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069, 0x200e, 0x200f, 0x061c];
    for (const cp of bidi) {
      const out = sanitizeLine(`exe${String.fromCodePoint(cp)}sj.tpircs`);
      assert.equal(out, `exe\\u${cp.toString(16).padStart(4, '0')}sj.tpircs`);
      assertInert(out);
    }
  });

  it('zero-width and invisible characters, separators, tags, fillers and variation selectors', () => {
    const invisible = [
      0x200b, 0x200c, 0x200d, 0x2060, 0x2061, 0x2062, 0x2063, 0x2064, 0xfeff, 0x180e, 0x034f, 0x115f, 0x1160, 0x3164, 0xffa0, 0x17b4,
      0xfe0f, 0x2028, 0x2029, 0xfff9,
    ];
    for (const cp of invisible) {
      const out = sanitizeLine(`cl${String.fromCodePoint(cp)}aude`);
      assert.equal(out, `cl\\u${cp.toString(16).padStart(4, '0')}aude`, `U+${cp.toString(16)}`);
    }
    assert.equal(sanitizeLine('soft\u00adhyphen'), 'soft\\xadhyphen');
    // Astral: tag characters (ASCII smuggling) and supplementary variation selectors.
    assert.equal(sanitizeLine('a\u{e0041}\u{e0100}b'), 'a\\u{e0041}\\u{e0100}b');
    // A lone surrogate cannot be rendered honestly either.
    assert.equal(sanitizeLine('a\ud800b'), 'a\\ud800b');
    assert.equal(sanitizeLine('a\udfffb'), 'a\\udfffb');
  });

  it('is idempotent: escaping escaped text changes nothing', () => {
    const once = sanitizeLine('x\x1b]0;title\x07\u202e\u200b\x9b\r\n');
    assert.equal(sanitizeLine(once), once);
  });

  it('caps the length with an ellipsis, never cutting an escape or a surrogate pair', () => {
    assert.equal(sanitizeLine('abcdef', 6), 'abcdef');
    assert.equal(sanitizeLine('abcdefg', 6), 'abcde…');
    assert.equal([...sanitizeLine('x'.repeat(5000))].length, 1024);
    assert.ok(sanitizeLine('x'.repeat(5000)).endsWith('…'));
    // "ab\u202e…": the 6-character escape does not fit in 5 → cut before it.
    assert.equal(sanitizeLine('ab\u202ecdef', 5), 'ab…');
    assert.equal(sanitizeLine('🔑🔑🔑🔑', 3), '🔑🔑…');
    assert.equal(sanitizeLine('abc', 1), '…');
  });

  it('null and undefined become empty; sanitizeOptional keeps null', () => {
    assert.equal(sanitizeLine(null), '');
    assert.equal(sanitizeLine(undefined), '');
    assert.equal(sanitizeOptional(null), null);
    assert.equal(sanitizeOptional('a\x1bb'), 'a␛b');
  });
});

describe('sanitizeForDisplay (multi-line)', () => {
  it('keeps LF and TAB, escapes CR and every other control', () => {
    assert.equal(sanitizeForDisplay('line 1\n\tline 2\r\x1b[1A', { multiline: true }), 'line 1\n\tline 2␍␛[1A');
    assert.equal(sanitizeForDisplay('a\u2028b', { multiline: true }), 'a\\u2028b');
  });

  it('has its own, larger default cap', () => {
    assert.equal([...sanitizeForDisplay('y'.repeat(20_000), { multiline: true })].length, 8192);
  });
});

describe('escapeJsonForTerminal', () => {
  it('escapes C1, bidi, zero-width, separators and tag characters; JSON.parse gives the same value back', () => {
    const value = { name: 'a\u009b2K\u202eb\u200b\u2028\ufeff\u{e0041}c\u00ad', plain: 'ключ 🔑 "q"', esc: '\x1b[2K\r' };
    const json = escapeJsonForTerminal(JSON.stringify(value, null, 2));
    assertInert(json.replace(/\n/g, ' '));
    assert.deepEqual(JSON.parse(json), value);
    assert.ok(json.includes('\\u202e') && json.includes('\\u009b') && json.includes('\\udb40\\udc41'));
    assert.ok(json.includes('ключ 🔑'), 'ordinary text stays readable');
  });
});
