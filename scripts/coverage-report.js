// The pure half of scripts/coverage.js: V8's raw coverage (NODE_V8_COVERAGE) → lines of
// the original sources through each script's source map → istanbul json-summary, lcov and
// a table.
//
// Why not Node's own --experimental-test-coverage report: it maps a V8 range only when both
// ends fall in the same source file, so in a bundle (the electron-vite main and preload)
// every module's top-level code is dropped as "not mappable". Here each mapping segment is
// looked up on its own: an original line is executable when some generated code maps to
// it, and covered when any of that code ran (the innermost V8 range around it counted > 0).
// Comment-only and blank lines map to nothing and are not counted. Branches are not
// measured (V8 reports only the blocks whose count differs from their parent).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const B64 = new Map([...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'].map((c, i) => [c, i]));

/** Source map `mappings` → per generated line, segments [column, sourceIndex, originalLine] (0-based; a segment's fourth field is skipped). */
export function decodeMappings(mappings) {
  const lines = [];
  let src = 0;
  let origLine = 0;
  for (const text of mappings.split(';')) {
    const segs = [];
    let col = 0;
    for (const seg of text.split(',')) {
      if (!seg) continue;
      const fields = [];
      let value = 0;
      let shift = 0;
      for (const ch of seg) {
        const digit = B64.get(ch);
        if (digit === undefined) throw new Error(`bad source map character ${ch}`);
        value += (digit & 31) << shift;
        if (digit & 32) {
          shift += 5;
        } else {
          fields.push(value & 1 ? -(value >>> 1) : value >>> 1);
          value = 0;
          shift = 0;
        }
      }
      col += fields[0];
      if (fields.length >= 4) {
        src += fields[1];
        origLine += fields[2]; // fields[3], the original column, is not needed for lines
        segs.push([col, src, origLine]);
      }
    }
    lines.push(segs);
  }
  return lines;
}

/** The source map of a generated file: inline (data: URL) or the file next to it; null without one. */
export function loadSourceMap(file, text) {
  const m = /\/[/*][#@] sourceMappingURL=([^\s*]+)\s*(?:\*\/)?\s*$/.exec(text.slice(-2000));
  if (!m) return null;
  const ref = m[1];
  try {
    if (ref.startsWith('data:')) {
      const comma = ref.indexOf(',');
      const body = ref.slice(comma + 1);
      const json = ref.slice(0, comma).endsWith(';base64') ? Buffer.from(body, 'base64').toString('utf8') : decodeURIComponent(body);
      return { map: JSON.parse(json), dir: path.dirname(file) };
    }
    const mapFile = path.resolve(path.dirname(file), decodeURIComponent(ref));
    return { map: JSON.parse(fs.readFileSync(mapFile, 'utf8')), dir: path.dirname(mapFile) };
  } catch {
    return null;
  }
}

/** Offsets at which each line of `text` starts. */
export function lineStarts(text) {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) starts.push(i + 1);
  return starts;
}

/** The same from Node's source-map-cache `lineLengths` (each line without its newline). */
function startsFromLengths(lengths) {
  const starts = [];
  let offset = 0;
  for (const n of lengths) {
    starts.push(offset);
    offset += n + 1;
  }
  return starts;
}

function sourcePath(dir, root, s) {
  return s.startsWith('file:') ? fileURLToPath(s) : path.resolve(dir, root ?? '', s);
}

/**
 * One script's V8 functions → { source path: Map(line → count) } over its source map.
 * `starts` are the generated file's line offsets; `functions` is V8's list (each: ranges,
 * the first spanning the function); the count at an offset is the innermost range's.
 */
export function mapScriptCoverage(starts, functions, sourceMap) {
  const { map, dir } = sourceMap;
  const sources = (map.sources ?? []).map((s) => sourcePath(dir, map.sourceRoot, s));
  const ranges = functions.flatMap((f) => f.ranges ?? []).slice();
  // Outer before inner: by start, then longest first.
  ranges.sort((a, b) => a.startOffset - b.startOffset || b.endOffset - a.endOffset);
  const out = new Map();
  const stack = [];
  let next = 0;
  sourceMap.decoded ??= decodeMappings(map.mappings ?? '');
  const decoded = sourceMap.decoded;
  for (let gl = 0; gl < decoded.length; gl++) {
    for (const [col, src, origLine] of decoded[gl]) {
      if (starts[gl] === undefined) continue;
      const offset = starts[gl] + col;
      while (next < ranges.length && ranges[next].startOffset <= offset) {
        const r = ranges[next++];
        while (stack.length && stack.at(-1).endOffset <= r.startOffset) stack.pop();
        stack.push(r);
      }
      while (stack.length && stack.at(-1).endOffset <= offset) stack.pop();
      const count = stack.length ? stack.at(-1).count : 0;
      const file = sources[src];
      if (file === undefined) continue;
      let lines = out.get(file);
      if (!lines) out.set(file, (lines = new Map()));
      const line = origLine + 1;
      lines.set(line, Math.max(lines.get(line) ?? 0, count));
    }
  }
  return out;
}

/**
 * Every coverage-*.json in `dir` (one per process) → Map(source path relative to `root` →
 * Map(line → count)), for scripts under `root` outside node_modules that have source maps.
 */
export function collectCoverage(dir, root) {
  const merged = new Map();
  const scripts = new Map(); // file → { text, sourceMap } (each generated file read once)
  for (const name of fs.readdirSync(dir).filter((n) => n.endsWith('.json'))) {
    let raw;
    try {
      raw = JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8'));
    } catch {
      continue; // a process killed while writing
    }
    for (const script of raw.result ?? []) {
      if (!script.url?.startsWith('file:')) continue;
      let file;
      try {
        file = fileURLToPath(script.url);
      } catch {
        continue;
      }
      if (!file.startsWith(root + path.sep) || file.includes(`${path.sep}node_modules${path.sep}`)) continue;
      // With --enable-source-maps the process recorded the map and line lengths itself (the
      // file may be gone by now: the Electron tests' scratch builds are).
      const cached = raw['source-map-cache']?.[script.url];
      const key = file; // one build per path during a run: its first record serves all
      if (!scripts.has(key)) {
        if (cached?.data) {
          scripts.set(key, {
            starts: startsFromLengths(cached.lineLengths ?? []),
            sourceMap: { map: cached.data, dir: path.dirname(file) },
          });
        } else {
          let text;
          try {
            text = fs.readFileSync(file, 'utf8');
          } catch {
            text = null;
          }
          const sourceMap = text === null ? null : loadSourceMap(file, text);
          scripts.set(key, sourceMap ? { starts: lineStarts(text), sourceMap } : null);
        }
      }
      const loaded = scripts.get(key);
      if (!loaded) continue;
      for (const [source, lines] of mapScriptCoverage(loaded.starts, script.functions ?? [], loaded.sourceMap)) {
        const rel = path.relative(root, source).split(path.sep).join('/');
        let into = merged.get(rel);
        if (!into) merged.set(rel, (into = new Map()));
        for (const [line, count] of lines) into.set(line, (into.get(line) ?? 0) + count);
      }
    }
  }
  return merged;
}

function metric(total, covered) {
  return { total, covered, skipped: 0, pct: total === 0 ? 100 : Math.floor((covered / total) * 10000) / 100 };
}

/** istanbul's json-summary: `total` plus one entry per file (statements = lines; functions and branches not measured). */
export function summarize(coverage) {
  const files = [...coverage.keys()].sort();
  const summary = {};
  let total = 0;
  let covered = 0;
  const none = metric(0, 0);
  for (const f of files) {
    const counts = [...coverage.get(f).values()];
    const lines = metric(counts.length, counts.filter((c) => c > 0).length);
    total += lines.total;
    covered += lines.covered;
    summary[f] = { lines, statements: lines, functions: none, branches: none };
  }
  const t = metric(total, covered);
  return { total: { lines: t, statements: t, functions: none, branches: none }, ...summary };
}

/** lcov (for editors): DA per executable line. */
export function toLcov(coverage) {
  const out = [];
  for (const f of [...coverage.keys()].sort()) {
    const lines = [...coverage.get(f)].sort((a, b) => a[0] - b[0]);
    out.push(
      `SF:${f}`,
      ...lines.map(([n, c]) => `DA:${n},${c}`),
      `LF:${lines.length}`,
      `LH:${lines.filter(([, c]) => c > 0).length}`,
      'end_of_record',
    );
  }
  return out.join('\n') + '\n';
}

/** A readable table: one row per file, then the total; `uncovered` lists a file's missed lines. */
export function table(summary, coverage) {
  const files = Object.keys(summary).filter((k) => k !== 'total');
  const width = Math.max(5, ...files.map((f) => f.length));
  const cell = (m) => `${m.pct.toFixed(2).padStart(6)} % ${`${m.covered}/${m.total}`.padStart(11)}`;
  const missed = (f) => {
    const lines = [...(coverage.get(f) ?? new Map())]
      .filter(([, c]) => c === 0)
      .map(([n]) => n)
      .sort((a, b) => a - b);
    const spans = [];
    for (const n of lines) {
      const last = spans.at(-1);
      if (last && n === last[1] + 1) last[1] = n;
      else spans.push([n, n]);
    }
    const text = spans.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(',');
    return text.length > 60 ? text.slice(0, 57) + '...' : text;
  };
  const head = `${'file'.padEnd(width)} | ${'lines'.padEnd(20)} | uncovered lines`;
  const rule = '-'.repeat(head.length + 40);
  const rows = files.map((f) => `${f.padEnd(width)} | ${cell(summary[f].lines)} | ${missed(f)}`);
  return [head, rule, ...rows, rule, `${'total'.padEnd(width)} | ${cell(summary.total.lines)} |`].join('\n');
}

/** The `required` files under `min` % of lines; a file with no coverage at all counts as 0 %. */
export function belowThreshold(summary, required, min) {
  return required.map((file) => ({ file, pct: summary[file]?.lines.pct ?? 0 })).filter((r) => r.pct < min);
}
