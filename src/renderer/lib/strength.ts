/**
 * A small password-strength estimate (zxcvbn-like in spirit, much simpler): guesses are
 * estimated from the character classes used, then reduced for the patterns people
 * actually choose — common passwords, repeats, sequences, keyboard rows, dates and
 * passphrases of common-looking words.
 */

export interface Strength {
  /** 0 very weak … 4 strong. */
  score: 0 | 1 | 2 | 3 | 4;
  bits: number;
  label: string;
  /** One short suggestion, or null when there is nothing to add. */
  hint: string | null;
}

const LABELS = ['Very weak', 'Weak', 'Fair', 'Good', 'Strong'] as const;

const COMMON = new Set([
  'password',
  'passw0rd',
  'password1',
  '123456',
  '12345678',
  '123456789',
  '1234567890',
  'qwerty',
  'qwertyuiop',
  'letmein',
  'welcome',
  'iloveyou',
  'admin',
  'administrator',
  'monkey',
  'dragon',
  'football',
  'baseball',
  'sunshine',
  'princess',
  'trustno1',
  'master',
  'secret',
  'changeme',
  'abc123',
  'superman',
  'login',
  'starwars',
  'whatever',
  'shadow',
  'keychain',
  'agentkeychain',
]);

const SEQUENCES = ['abcdefghijklmnopqrstuvwxyz', '01234567890', 'qwertyuiop', 'asdfghjkl', 'zxcvbnm', '1qaz2wsx3edc'];

function charsetSize(pw: string): number {
  let size = 0;
  if (/[a-z]/.test(pw)) size += 26;
  if (/[A-Z]/.test(pw)) size += 26;
  if (/[0-9]/.test(pw)) size += 10;
  if (/[ !"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/.test(pw)) size += 33;
  // eslint-disable-next-line no-control-regex
  if (/[^\x00-\x7f]/.test(pw)) size += 100;
  return Math.max(size, 10);
}

/** Length after collapsing runs, repeats and sequences into a couple of characters each. */
function effectiveLength(pw: string): number {
  const lower = pw.toLowerCase();
  let length = 0;
  let i = 0;
  while (i < lower.length) {
    // A run of the same character ("aaaa").
    let j = i + 1;
    while (j < lower.length && lower[j] === lower[i]) j++;
    if (j - i >= 3) {
      length += 1.5;
      i = j;
      continue;
    }
    // A sequence, forwards or backwards, from a known alphabet or keyboard row.
    let best = 0;
    for (const seq of SEQUENCES) {
      for (const s of [seq, [...seq].reverse().join('')]) {
        let k = 0;
        const at = s.indexOf(lower[i]!);
        if (at < 0) continue;
        while (i + k < lower.length && at + k < s.length && s[at + k] === lower[i + k]) k++;
        best = Math.max(best, k);
      }
    }
    if (best >= 3) {
      length += 1.5;
      i += best;
      continue;
    }
    length += 1;
    i++;
  }
  // A repeated block ("abcabcabc") counts once.
  const repeat = /^(.+?)\1+$/.exec(lower);
  if (repeat) length = Math.min(length, repeat[1]!.length + 1);
  return length;
}

export function estimateStrength(pw: string): Strength {
  if (pw.length === 0) return { score: 0, bits: 0, label: '', hint: null };
  const lower = pw.toLowerCase();
  const stripped = lower.replace(/[^a-z]/g, '');
  let bits: number;
  let hint: string | null = null;

  if (COMMON.has(lower) || COMMON.has(stripped) || COMMON.has(lower.replace(/\d+$/, ''))) {
    bits = 10;
    hint = 'This is one of the most common passwords.';
  } else {
    bits = effectiveLength(pw) * Math.log2(charsetSize(pw));
    // Passphrases: words of letters separated by spaces or punctuation. Count each word
    // as one pick from a large word list rather than as independent letters.
    const words = pw.split(/[\s\-_.,]+/).filter((w) => w.length > 0);
    if (words.length >= 3 && words.every((w) => /^\p{L}+\d?$/u.test(w))) {
      bits = Math.min(bits, words.length * 12.9 + (/[A-Z0-9]/.test(pw) ? 4 : 0));
    }
    // Dates and years add little.
    if (/(19|20)\d\d/.test(pw)) bits -= 6;
  }
  bits = Math.max(0, bits);

  const score: Strength['score'] = bits < 28 ? 0 : bits < 36 ? 1 : bits < 60 ? 2 : bits < 80 ? 3 : 4;
  if (!hint) {
    if (pw.length < 8) hint = 'Use at least 8 characters.';
    else if (score <= 1) hint = 'Add a few more words or characters; avoid patterns like "1234" or "aaaa".';
    else if (score === 2) hint = 'A fourth or fifth random word would make it much stronger.';
  }
  return { score, bits: Math.round(bits), label: LABELS[score], hint };
}
