/** Formatting helpers: times, durations, counts and middle-shortened paths and hashes. */

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** "12 431": groups of three with a space, as in the design notes. */
export function formatCount(n: number): string {
  return Math.round(n)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, ' ');
}

/** Absolute date and time for tooltips: "Tue 4 Mar 2025, 14:02:11". */
export function formatAbsolute(ms: number): string {
  return new Date(ms).toLocaleString(undefined, {
    weekday: 'short',
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
}

/** "just now", "2 min ago", "3 h ago", "yesterday", "4 Mar". */
export function formatRelative(ms: number, now: number): string {
  const diff = now - ms;
  if (diff < 0) {
    const ahead = -diff;
    if (ahead < MINUTE) return 'in a few seconds';
    if (ahead < HOUR) return `in ${Math.round(ahead / MINUTE)} min`;
    if (ahead < DAY) return `in ${Math.round(ahead / HOUR)} h`;
    return `in ${Math.round(ahead / DAY)} d`;
  }
  if (diff < 10_000) return 'just now';
  if (diff < MINUTE) return `${Math.floor(diff / 1000)} s ago`;
  if (diff < HOUR) return `${Math.floor(diff / MINUTE)} min ago`;
  if (diff < DAY) return `${Math.floor(diff / HOUR)} h ago`;
  if (diff < 2 * DAY) return 'yesterday';
  if (diff < 7 * DAY) return `${Math.floor(diff / DAY)} days ago`;
  const d = new Date(ms);
  const sameYear = d.getFullYear() === new Date(now).getFullYear();
  return d.toLocaleDateString(
    undefined,
    sameYear ? { day: 'numeric', month: 'short' } : { day: 'numeric', month: 'short', year: 'numeric' },
  );
}

/** Time of day for log rows: "14:02:11"; older than today also gets the date. */
export function formatLogTime(ms: number, now: number): string {
  const d = new Date(ms);
  const time = d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
  if (new Date(now).toDateString() === d.toDateString()) return time;
  return `${d.toLocaleDateString(undefined, { day: 'numeric', month: 'short' })} ${time}`;
}

/** A countdown: "0:54", "14:59", "1:02:03". */
export function formatCountdown(msLeft: number): string {
  const total = Math.max(0, Math.ceil(msLeft / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const ss = s.toString().padStart(2, '0');
  return h > 0 ? `${h}:${m.toString().padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** "45 s", "12 min", "3 h 20 min", "2 days". */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const min = Math.round(s / 60);
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 48) return min % 60 ? `${h} h ${min % 60} min` : `${h} h`;
  return `${Math.round(h / 24)} days`;
}

/**
 * Shortens a path in the middle, keeping the first segment and the last ones:
 * "/home/ana/.local/share/claude/bin/claude" → "/home/ana/…/bin/claude". Home becomes "~".
 */
export function shortenPath(path: string, max = 36): string {
  if (path.length <= max) return path;
  const sep = path.includes('/') ? '/' : '\\';
  const parts = path.split(sep);
  if (parts.length < 3) return shortenMiddle(path, max);
  let tail = parts[parts.length - 1]!;
  let i = parts.length - 2;
  // Keep adding trailing segments while they fit.
  const headCount = parts[0] === '' ? 3 : parts[0] === '~' ? 1 : 2;
  const head = parts.slice(0, headCount).join(sep);
  while (i >= headCount && head.length + tail.length + parts[i]!.length + 3 <= max) {
    tail = parts[i] + sep + tail;
    i--;
  }
  if (head.length + tail.length + 2 > max + 8) return shortenMiddle(path, max);
  return `${head}${sep}…${sep}${tail}`;
}

/** "3f9a0b…c01e" — keeps both ends of a hash or any long string. */
export function shortenMiddle(text: string, max = 13): string {
  if (text.length <= max) return text;
  const keep = Math.max(2, max - 1);
  const front = Math.ceil(keep / 2);
  const back = Math.floor(keep / 2);
  return `${text.slice(0, front)}…${text.slice(text.length - back)}`;
}

/** "sha256 3f9a…c01e". */
export function shortHash(hash: string): string {
  return `${hash.slice(0, 4)}…${hash.slice(-4)}`;
}

/** Error messages from the core are lowercase clauses; show them as sentences. */
export function sentence(text: string): string {
  if (!text) return text;
  const first = text.charAt(0).toUpperCase() + text.slice(1);
  return /[.!?]$/.test(first) ? first : `${first}.`;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${formatCount(n)} ${n === 1 ? one : many}`;
}

/** The last path segment: "/usr/bin/node" → "node". */
export function basename(path: string): string {
  const parts = path.split(/[\\/]/);
  return parts[parts.length - 1] || path;
}

let homeDir: string | null = null;

/** Learns the user's home from the data dir ("/home/ana/.local/share/…" → "/home/ana"). */
export function learnHome(dataDir: string): void {
  const m = /^(\/home\/[^/]+|\/Users\/[^/]+|\/root|[A-Za-z]:\\Users\\[^\\]+)(?=[\\/]|$)/.exec(dataDir);
  if (m) homeDir = m[1]!;
}

/** A path for display: home as "~", then shortened in the middle. */
export function displayPath(path: string, max = 36): string {
  let p = path;
  if (homeDir && (p === homeDir || p.startsWith(homeDir + '/') || p.startsWith(homeDir + '\\'))) p = '~' + p.slice(homeDir.length);
  return shortenPath(p, max);
}
