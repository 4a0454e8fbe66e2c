/**
 * Glob matching for secret names, argv and cwd patterns: `*` matches within one path
 * segment (no `/`), `**` matches across segments, `?` one character. Everything else is
 * literal, so a pattern can never smuggle in regular-expression syntax.
 */
const cache = new Map<string, RegExp>();

export function globToRegExp(pattern: string): RegExp {
  let re = cache.get(pattern);
  if (re) return re;
  let src = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        src += '.*';
        i++;
      } else src += '[^/]*';
    } else if (c === '?') src += '[^/]';
    else src += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  re = new RegExp(src + '$', 's');
  if (cache.size > 1000) cache.clear();
  cache.set(pattern, re);
  return re;
}

export function globMatch(pattern: string, value: string): boolean {
  return globToRegExp(pattern).test(value);
}

export function isGlob(pattern: string): boolean {
  return /[*?]/.test(pattern);
}
