/** Durations as people type and read them ("15m", "1h30m", "2d"). */

/** A short human form of a duration in ms ("15m", "1h30m", "2d"). */
export function formatDuration(ms: number): string {
  let rest = Math.round(ms / 1000);
  const parts: string[] = [];
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return parts.join('') || '0s';
}
