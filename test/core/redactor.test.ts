/**
 * The streaming redactor: every form of every value is replaced whatever the chunking,
 * overlaps leave nothing exposed, memory stays constant, clean text passes untouched.
 * Escaped forms are checked against what real programs print (Python, bash, Node, the
 * `yaml` package, `akc inject`'s escapers); multi-line values line by line.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import YAML from 'yaml';
import { RedactionSet, PatternSet, type LabelledValue } from '../../src/core/redact/redactor.js';
import { base64Bytes, base64Cores, encodedForms, MIN_LINE_LENGTH, urlEncode, valueLines } from '../../src/core/redact/encodings.js';
import { textEscapes, utf8CodePoints } from '../../src/core/redact/escapes.js';
import { Automaton, StreamMatcher } from '../../src/core/redact/aho-corasick.js';
import { jsonEscape, yamlEscape } from '../../src/cli/commands/inject.js';
import { python } from '../helpers/python.js';

const VALUE = 'sk-test-4f9a1c7e2b8d6a3f0e5c9b7a';
const SECRET: LabelledValue = { label: 'openai', value: Buffer.from(VALUE) };
const MARK = '[REDACTED:openai]';

/** Redacts `text` fed in the given chunks. */
function redactChunks(set: RedactionSet, chunks: (string | Buffer)[]): string {
  const r = set.redactor();
  const out: Buffer[] = [];
  for (const c of chunks) out.push(r.write(Buffer.from(c)));
  out.push(r.end());
  return Buffer.concat(out).toString('latin1');
}

function redact(set: RedactionSet, text: string | Buffer): string {
  return redactChunks(set, [text]);
}

/** Splits `text` at every position into two chunks and checks the output is the same. */
function everySplit(set: RedactionSet, text: string, expected: string): void {
  const buf = Buffer.from(text, 'latin1');
  for (let i = 0; i <= buf.length; i++) {
    assert.equal(redactChunks(set, [buf.subarray(0, i), buf.subarray(i)]), expected, `split at ${i}`);
  }
}

describe('encodings', () => {
  test('base64 and hex over bytes agree with Node', () => {
    for (let n = 0; n < 40; n++) {
      const v = randomBytes(n);
      assert.equal(base64Bytes(v, 'base64', true).toString(), v.toString('base64'));
      assert.equal(base64Bytes(v, 'base64url', false).toString(), v.toString('base64url'));
      assert.equal(base64Bytes(v, 'base64', false).toString(), v.toString('base64').replace(/=+$/, ''));
    }
  });

  test('url encoding is encodeURIComponent for text', () => {
    const text = "p@ss w0rd/&?=+%é€😀~*()!'";
    assert.equal(urlEncode(Buffer.from(text)).toString(), encodeURIComponent(text));
  });

  test('each base64 core occurs in the encoding of the value at its alignment, whatever the neighbours', () => {
    const value = Buffer.from(VALUE);
    for (const alphabet of ['base64', 'base64url'] as const) {
      const cores = base64Cores(value, alphabet).map((c) => c.toString());
      assert.equal(cores.length, 3);
      for (let k = 0; k < 3; k++) {
        for (let trial = 0; trial < 20; trial++) {
          const around = Buffer.concat([randomBytes(3 * trial + k), value, randomBytes(trial)]);
          assert.ok(around.toString(alphabet).includes(cores[k]!), `offset ${k}`);
        }
      }
    }
  });

  test('forms: raw, base64 (padded, unpadded, cores), base64url, hex, HEX, url — distinct', () => {
    const forms = encodedForms(Buffer.from('a/b?c=d+e~~~~~~~~'));
    const names = new Set(forms.map((f) => f.encoding));
    for (const e of ['raw', 'base64', 'base64url', 'hex', 'HEX', 'url']) assert.ok(names.has(e as never), e);
    const texts = forms.map((f) => f.bytes.toString('latin1'));
    assert.equal(new Set(texts).size, texts.length);
  });
});

describe('redaction', () => {
  const set = new RedactionSet([SECRET]);

  test('the whole value', () => {
    assert.equal(redact(set, `key=${VALUE}\n`), `key=${MARK}\n`);
    assert.equal(redact(set, VALUE), MARK);
    assert.equal(redact(set, `${VALUE}${VALUE} ${VALUE}`), `${MARK}${MARK} ${MARK}`);
  });

  test('split across two chunks at every split point', () => {
    everySplit(set, `key=${VALUE} and again ${VALUE}.`, `key=${MARK} and again ${MARK}.`);
  });

  test('one byte at a time', () => {
    const text = `a${VALUE}b${Buffer.from(VALUE).toString('base64')}c`;
    assert.equal(
      redactChunks(
        set,
        [...Buffer.from(text)].map((b) => Buffer.from([b])),
      ),
      `a${MARK}b${MARK}c`,
    );
  });

  test('every encoding, standalone, split anywhere', () => {
    const v = Buffer.from(VALUE);
    const forms = [
      v.toString('base64'),
      v.toString('base64').replace(/=+$/, ''),
      v.toString('base64url'),
      v.toString('hex'),
      v.toString('hex').toUpperCase(),
      encodeURIComponent(VALUE),
    ];
    for (const f of forms) everySplit(set, `<${f}>`, `<${MARK}>`);
  });

  test('url-encoded value with reserved characters', () => {
    const value = 'p@ss/w0rd&x=1 y+z';
    const s = new RedactionSet([{ label: 'db', value: Buffer.from(value) }]);
    assert.equal(redact(s, `https://h/?p=${encodeURIComponent(value)}&q=1`), 'https://h/?p=[REDACTED:db]&q=1');
    assert.equal(redact(s, `pw: ${value}`), 'pw: [REDACTED:db]');
  });

  test('base64 of a longer text containing the value, at all three alignments', () => {
    const v = Buffer.from(VALUE);
    const cores = [...base64Cores(v, 'base64'), ...base64Cores(v, 'base64url')].map((c) => c.toString());
    for (let k = 0; k < 6; k++) {
      for (const alphabet of ['base64', 'base64url'] as const) {
        const prefix = `${'x'.repeat(k)}Authorization: Bearer `;
        const encoded = Buffer.from(`${prefix}${VALUE}\nmore`).toString(alphabet);
        const out = redact(set, `header ${encoded} end`);
        assert.ok(out.includes(MARK), `${alphabet} offset ${k}: ${out}`);
        for (const c of cores) assert.ok(!out.includes(c), `${alphabet} offset ${k}: a core survived`);
        // What survives is the neighbours' characters and at most the one edge character
        // on each side that mixes the value's bits with a neighbour's (it is redacted too
        // when the neighbour's bits happen to equal the standalone encoding's zero padding).
        const m = /^header (\S*)\[REDACTED:openai\](\S*) end$/.exec(out);
        assert.ok(m, out);
        const p = prefix.length;
        const [lo, hi] = [(8 * p) / 6, (8 * (p + VALUE.length)) / 6];
        assert.ok(encoded.startsWith(m[1]!) && m[1]!.length >= Math.floor(lo) && m[1]!.length <= Math.ceil(lo), out);
        const from = encoded.length - m[2]!.length;
        assert.ok(encoded.endsWith(m[2]!) && from >= Math.floor(hi) && from <= Math.ceil(hi), out);
      }
    }
  });

  test('overlapping values merge into one run; nothing of either is exposed', () => {
    const a = 'abcdef123456';
    const b = '123456uvwxyz';
    const s = new RedactionSet([
      { label: 'A', value: Buffer.from(a) },
      { label: 'B', value: Buffer.from(b) },
    ]);
    everySplit(s, `>abcdef123456uvwxyz<`, `>[REDACTED:A]<`);
    everySplit(s, `>${a}|${b}<`, `>[REDACTED:A]|[REDACTED:B]<`);
    // Adjacent (touching, not overlapping): two markers.
    assert.equal(redact(s, `${a}${b}`), '[REDACTED:A][REDACTED:B]');
  });

  test('a value inside another: the longer (leftmost) wins', () => {
    const s = new RedactionSet([
      { label: 'short', value: Buffer.from('token123') },
      { label: 'long', value: Buffer.from('my-token123-long') },
    ]);
    everySplit(s, 'x my-token123-long y token123 z', 'x [REDACTED:long] y [REDACTED:short] z');
  });

  test('repeated prefixes do not hide a later match (aaab in aaaab)', () => {
    const s = new RedactionSet([{ label: 'k', value: Buffer.from('aaaaaaab') }]);
    everySplit(s, 'aaaaaaaaaaab aaaaaaa', 'aaaa[REDACTED:k] aaaaaaa');
  });

  test('binary values and binary streams', () => {
    const value = randomBytes(24);
    const s = new RedactionSet([{ label: 'bin', value }]);
    const data = Buffer.concat([randomBytes(100), value, randomBytes(50), Buffer.from(value.toString('hex'))]);
    const out = s.redact(data);
    assert.equal(out.indexOf(value), -1);
    assert.equal(out.toString('latin1').split('[REDACTED:bin]').length, 3);
  });

  test('no false positive on clean text, near misses included', () => {
    const near = [
      VALUE.slice(0, -1),
      VALUE.slice(1),
      VALUE.replace('4f9a', '4f9b'),
      VALUE.toUpperCase(),
      Buffer.from(VALUE.slice(0, -1)).toString('hex'),
      Buffer.from(VALUE.slice(0, 8)).toString('base64'),
    ];
    const clean = `${'The quick brown fox jumps over the lazy dog. 0123456789 ABCDEF abcdef ==\n'.repeat(200)}${near.join('\n')}\n`;
    everySplit(set, clean.slice(0, 400), clean.slice(0, 400));
    assert.equal(redact(set, clean), clean);
    // Random text: no marker.
    const random = randomBytes(1 << 20).toString('base64');
    assert.equal(redact(set, random), random);
  });

  test('empty values and empty sets pass everything through', () => {
    const s = new RedactionSet([{ label: 'empty', value: Buffer.alloc(0) }]);
    assert.equal(redact(s, 'anything at all'), 'anything at all');
  });

  test('matches a naive reference on random inputs and random chunkings', () => {
    const alphabet = 'ab01+/=%';
    const rnd = (n: number): string => Array.from({ length: n }, () => alphabet[Math.floor(Math.random() * alphabet.length)]).join('');
    for (let round = 0; round < 300; round++) {
      const values = Array.from({ length: 1 + Math.floor(Math.random() * 3) }, () => rnd(1 + Math.floor(Math.random() * 5)));
      const s = new RedactionSet(values.map((v, i) => ({ label: `s${i}`, value: Buffer.from(v) })));
      const text = rnd(200);
      const expected = naive(values, text);
      const buf = Buffer.from(text, 'latin1');
      const chunks: Buffer[] = [];
      for (let i = 0; i < buf.length;) {
        const n = 1 + Math.floor(Math.random() * 12);
        chunks.push(buf.subarray(i, i + n));
        i += n;
      }
      assert.equal(redactChunks(s, chunks), expected, JSON.stringify({ values, text }));
    }
  });
});

/** Union of all occurrences of all forms; each run labelled by its leftmost-longest match. */
function naive(values: string[], text: string): string {
  const intervals: { a: number; b: number; owner: number }[] = [];
  values.forEach((v, owner) => {
    for (const f of encodedForms(Buffer.from(v))) {
      const p = f.bytes.toString('latin1');
      for (let i = text.indexOf(p); i !== -1; i = text.indexOf(p, i + 1)) intervals.push({ a: i, b: i + p.length, owner });
    }
  });
  intervals.sort((x, y) => x.a - y.a || y.b - x.b);
  let out = '';
  let cursor = 0;
  let runEnd = -1;
  for (const iv of intervals) {
    if (iv.a < runEnd) {
      runEnd = Math.max(runEnd, iv.b);
      cursor = Math.max(cursor, iv.b);
      continue;
    }
    out += text.slice(cursor, iv.a) + `[REDACTED:s${iv.owner}]`;
    cursor = iv.b;
    runEnd = iv.b;
  }
  return out + text.slice(cursor);
}

describe('streaming', () => {
  test('a 10 MiB stream through the Transform: redacted, held bytes bounded, memory bounded', async () => {
    const set = new RedactionSet([SECRET, { label: 'gh', value: Buffer.from('ghp_' + 'Z'.repeat(36)) }]);
    const stream = set.stream();
    const line = Buffer.from(`INFO request ok ${'.'.repeat(50)} key=${VALUE} b64=${Buffer.from(VALUE).toString('base64')}\n`);
    const total = 10 * 1024 * 1024;
    let produced = 0;
    let maxHeld = 0;
    let seen = 0;
    let outBytes = 0;
    let leaked = false;
    let tail = '';
    const before = process.memoryUsage();
    let peakRss = before.rss;
    const source = new Readable({
      read() {
        if (produced >= total) return this.push(null);
        // Chunk boundaries at odd places, so values split across chunks.
        const n = 4093;
        const chunk = Buffer.alloc(n);
        for (let w = 0; w < n; w++) chunk[w] = line[(produced + w) % line.length]!;
        produced += n;
        this.push(chunk);
      },
    });
    const sink = new Writable({
      write(chunk: Buffer, _e, done) {
        maxHeld = Math.max(maxHeld, stream.heldBytes);
        const text = tail + chunk.toString('latin1');
        if (text.includes(VALUE)) leaked = true;
        seen += text.split(MARK).length - 1 - (tail.split(MARK).length - 1);
        tail = text.slice(-64);
        outBytes += chunk.length;
        peakRss = Math.max(peakRss, process.memoryUsage.rss());
        done();
      },
    });
    await pipeline(source, stream, sink);
    set.destroy();
    assert.equal(leaked, false);
    const lines = Math.floor(total / line.length);
    assert.ok(seen >= 2 * lines - 2, `markers ${seen} for ${lines} lines`);
    assert.ok(maxHeld < set.maxLength, `held ${maxHeld} >= ${set.maxLength}`);
    assert.ok(outBytes > total / 2);
    const growth = (peakRss - before.rss) / 1024 / 1024;
    assert.ok(growth < 32, `rss grew by ${growth.toFixed(1)} MiB`);
  });

  test('64 MiB through a redactor with heap bounded (no whole-output buffering)', () => {
    const set = new RedactionSet([SECRET]);
    const r = set.redactor();
    const chunk = Buffer.from(`${'lorem ipsum dolor sit amet '.repeat(2000)}${VALUE}\n`);
    const before = process.memoryUsage().heapUsed;
    let peak = before;
    let markers = 0;
    for (let done = 0; done < 64 * 1024 * 1024; done += chunk.length) {
      const out = r.write(Buffer.from(chunk));
      markers += out.includes(MARK) ? 1 : 0;
      if ((done & 0xfffff) < chunk.length) peak = Math.max(peak, process.memoryUsage().heapUsed);
    }
    r.end();
    set.destroy();
    assert.ok(markers > 1000);
    const growth = (peak - before) / 1024 / 1024;
    assert.ok(growth < 32, `heap grew by ${growth.toFixed(1)} MiB`);
  });

  test('destroy zeroes the patterns', () => {
    const value = Buffer.from(VALUE);
    const set = new PatternSet([value]);
    set.destroy();
    assert.equal(
      set.automaton!.delta.every((x) => x === 0),
      true,
    );
  });
});

describe('automaton', () => {
  test('reports every occurrence with its pattern, across chunks', () => {
    const patterns = ['he', 'she', 'his', 'hers'].map((p) => Buffer.from(p));
    const ac = new Automaton(patterns);
    const found: string[] = [];
    const m = new StreamMatcher(ac, {
      plain: () => undefined,
      covered: () => undefined,
      match: (p, at, opens) => found.push(`${patterns[p]!.toString()}@${at}${opens ? '' : '+'}`),
    });
    for (const c of ['us', 'he', 'rs h', 'is']) m.write(Buffer.from(c));
    m.end();
    assert.deepEqual(found, ['she@1', 'hers@2+', 'he@2+', 'his@7']);
  });
});

// A value with both quotes, a backslash and shell metacharacters; one with control
// characters, non-ASCII and Unicode separators (the one the inject tests use).
const QUOTED = 'pa"ss\\wo\'rd-7Qz$x`b,c';
const WEIRD = "quote\" back\\slash\nnew\tline\u0001ctl é €😀 \u2028sep \u0085nel #: - [x] {y} 'z'";

function bash(script: string, value: string, env: NodeJS.ProcessEnv = process.env): string {
  const r = spawnSync('bash', ['-c', script, 'bash', value], { encoding: 'utf8', env });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

/** What each program prints for `v`, and what the redacted output must be exactly. */
function printed(v: string, m: string): [string, string, string][] {
  const cases: [string, string, string][] = [
    ['python json.dumps', python('import json,sys; print(json.dumps(sys.argv[1]))', [v]), `"${m}"\n`],
    [
      'python json.dumps ensure_ascii=False',
      python('import json,sys; print(json.dumps(sys.argv[1], ensure_ascii=False))', [v]),
      `"${m}"\n`,
    ],
    ['python json.dumps twice', python('import json,sys; print(json.dumps({"k": json.dumps(sys.argv[1])}))', [v]), `{"k": "\\"${m}\\""}\n`],
    ['python repr', python('import sys; print(repr(sys.argv[1]))', [v]), `'${m}'\n`],
    ['python ascii', python('import sys; print(ascii(sys.argv[1]))', [v]), `'${m}'\n`],
    ['python bytes repr', python('import sys,os; print(repr(os.fsencode(sys.argv[1])))', [v]), `b'${m}'\n`],
    ['node JSON.stringify', JSON.stringify(v), `"${m}"`],
    ['node JSON.stringify twice', JSON.stringify(JSON.stringify({ k: v })), `"{\\"k\\":\\"${m}\\"}"`],
    ['akc inject --json', `{"k": "${jsonEscape(v)}"}`, `{"k": "${m}"}`],
    ['akc inject --yaml', `k: "${yamlEscape(v)}"`, `k: "${m}"`],
    ['bash ${v@Q}', bash('printf "%s" "${1@Q}"', v), v.includes('\n') ? `$'${m}'` : `'${m}'`],
    ['bash printf %q', bash('printf %q "$1"', v), v.includes('\n') ? `$'${m}'` : m],
    ['bash printf %q, C locale', bash('printf %q "$1"', v, { ...process.env, LC_ALL: 'C' }), v.includes('\n') ? `$'${m}'` : m],
    ['shell double quotes', `"${v.replace(/[\\"$`]/g, (c) => `\\${c}`)}"`, `"${m}"`],
    ['shell single quotes', `'${v.replace(/'/g, `'"'"'`)}'`, `'${m}'`],
  ];
  return cases;
}

describe('escaped forms, as real programs print them', () => {
  for (const [name, v] of [
    ['quotes and a backslash', QUOTED],
    ['controls, non-ASCII, separators', WEIRD],
  ] as const) {
    test(`${name}: Python json.dumps / repr, Node JSON, bash %q and @Q, akc inject --json/--yaml`, () => {
      const s = new RedactionSet([{ label: 'x', value: Buffer.from(v) }]);
      for (const [program, text, expected] of printed(v, '[REDACTED:x]')) {
        assert.notEqual(text.replace(/\n$/, ''), v, `${program} printed the value unescaped: not a test of an escape`);
        assert.equal(s.redact(Buffer.from(text)).toString(), expected, program);
      }
    });
  }

  test('the yaml package: double- and single-quoted scalars', () => {
    const s = new RedactionSet([{ label: 'x', value: Buffer.from(QUOTED) }]);
    for (const type of ['QUOTE_DOUBLE', 'QUOTE_SINGLE'] as const) {
      const text = YAML.stringify({ k: QUOTED }, { defaultStringType: type, defaultKeyType: 'PLAIN', lineWidth: 0 });
      assert.ok(!text.includes(QUOTED));
      const q = type === 'QUOTE_DOUBLE' ? '"' : "'";
      assert.equal(s.redact(Buffer.from(text)).toString(), `k: ${q}[REDACTED:x]${q}\n`, type);
    }
  });

  test('an escaped form split across chunks at every point', () => {
    const s = new RedactionSet([{ label: 'x', value: Buffer.from(QUOTED) }]);
    const text = python('import json,sys; print(json.dumps({"key": sys.argv[1]}))', [QUOTED]);
    everySplit(s, text, '{"key": "[REDACTED:x]"}\n');
  });

  test('what `akc inject --json/--yaml` writes is among the forms, for awkward values', () => {
    const values = [
      QUOTED,
      WEIRD,
      'tab\there',
      'nul\u0000byte-and-more',
      'del\u007f\u0085\u00a0\ufeff-x',
      '\u2028\u2029-separators',
      'astral-😀-𝔘-x',
    ];
    for (const v of values) {
      const forms = encodedForms(Buffer.from(v)).map((f) => f.bytes.toString('utf8'));
      assert.ok(forms.includes(jsonEscape(v)), `json form of ${JSON.stringify(v)}`);
      assert.ok(forms.includes(yamlEscape(v)), `yaml form of ${JSON.stringify(v)}`);
      // Hex on the command line: an argument cannot hold a NUL.
      const pyJson = python('import json,sys; print(json.dumps(bytes.fromhex(sys.argv[1]).decode())[1:-1], end="")', [
        Buffer.from(v).toString('hex'),
      ]);
      assert.ok(forms.includes(pyJson), `python json.dumps form of ${JSON.stringify(v)}`);
    }
  });

  test('plain tokens get no extra forms; only escapes that differ from the value are kept', () => {
    const plain = encodedForms(Buffer.from('sk-test-4f9a1c7e2b8d6a3f0e5c9b7a'));
    for (const f of plain) assert.ok(['raw', 'base64', 'base64url', 'hex', 'HEX'].includes(f.encoding), f.encoding);
    const quoted = encodedForms(Buffer.from(QUOTED));
    for (const e of ['json', 'shell', 'yaml', 'repr'])
      assert.ok(
        quoted.some((f) => f.encoding === e),
        e,
      );
    const texts = quoted.map((f) => f.bytes.toString('latin1'));
    assert.equal(new Set(texts).size, texts.length, 'no duplicates');
  });

  test('a value that is not UTF-8 gets only the byte-level escapes', () => {
    const binary = Buffer.from([0x61, 0xff, 0x27, 0x5c, 0x0a, 0xc3]);
    assert.equal(utf8CodePoints(binary), null);
    const escapes = textEscapes(binary).map((e) => `${e.encoding}:${e.bytes.toString('latin1')}`);
    assert.deepEqual(escapes.sort(), ["repr:a\\xff'\\\\\\n\\xc3", "repr:a\\xff\\'\\\\\\n\\xc3", "shell:a\\377\\'\\\\\\n\\303"].sort());
    const s = new RedactionSet([{ label: 'bin', value: binary }]);
    const out = python('import sys; print(repr(bytes.fromhex(sys.argv[1])))', [binary.toString('hex')]);
    assert.equal(s.redact(Buffer.from(out)).toString(), `b"[REDACTED:bin]"\n`);
  });

  test('UTF-8 decoding refuses overlong forms, surrogates and truncated sequences', () => {
    for (const bad of [[0xc0, 0x80], [0xe0, 0x80, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82], [0x80]]) {
      assert.equal(utf8CodePoints(Buffer.from(bad)), null, Buffer.from(bad).toString('hex'));
    }
    assert.deepEqual([...utf8CodePoints(Buffer.from('aé€😀'))!], [0x61, 0xe9, 0x20ac, 0x1f600]);
  });
});

describe('multi-line values', () => {
  const body = randomBytes(260).toString('base64').replace(/[+/]/g, 'x');
  const lines = body.match(/.{1,70}/g)!;
  lines.push('Zm9vYg'); // a last line shorter than MIN_LINE_LENGTH: not redacted on its own
  const KEY = `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join('\n')}\n-----END OPENSSH PRIVATE KEY-----\n`;
  const M = '[REDACTED:ssh]';
  const set = new RedactionSet([{ label: 'ssh', value: Buffer.from(KEY) }]);
  const long = lines.filter((l) => l.length >= MIN_LINE_LENGTH);

  test('printed whole: one marker', () => {
    assert.equal(redact(set, `key:\n${KEY}done\n`), `key:\n${M}done\n`);
  });

  test('printed line by line (CRLF): every long line redacted; armour and short lines stay', () => {
    const text = KEY.replace(/\n/g, '\r\n');
    const expected = ['-----BEGIN OPENSSH PRIVATE KEY-----', ...long.map(() => M), 'Zm9vYg', '-----END OPENSSH PRIVATE KEY-----', ''].join(
      '\r\n',
    );
    assert.equal(redact(set, text), expected);
    // The first three lines, split at every point.
    const head = text.split('\r\n').slice(0, 3).join('\r\n');
    everySplit(set, head, expected.split('\r\n').slice(0, 3).join('\r\n'));
  });

  test('one line only, anywhere, split at every point', () => {
    everySplit(set, `line 3 is ${lines[2]} (copied)`, `line 3 is ${M} (copied)`);
    assert.equal(redact(set, `  ${lines[1]}\n`), `  ${M}\n`);
  });

  test('as a YAML block scalar (every line indented) and through real json.dumps / repr', () => {
    const block = `key: |\n${KEY.split('\n')
      .slice(0, -1)
      .map((l) => `  ${l}`)
      .join('\n')}\n`;
    const out = redact(set, block);
    for (const l of long) assert.ok(!out.includes(l), 'a line survived');
    assert.equal(out.split(M).length - 1, long.length);
    const dumped = python('import json,sys; print(json.dumps(sys.argv[1])); print(repr(sys.argv[1]))', [KEY]);
    assert.equal(redact(set, dumped), `"${M}"\n'${M}'\n`);
  });

  test('a value with a trailing newline is also found without it', () => {
    const value = 'tok_9c8b7a6f5e4d3c2b1a\n';
    const s = new RedactionSet([{ label: 't', value: Buffer.from(value) }]);
    assert.equal(redact(s, `x=${value.trim()};`), 'x=[REDACTED:t];');
    assert.equal(redact(s, python('import json,sys; print(json.dumps(sys.argv[1].strip()))', [value])), '"[REDACTED:t]"\n');
  });

  test('lines: trimmed, empty ones dropped, numbered as a reader sees them', () => {
    assert.deepEqual(
      valueLines(Buffer.from('  first line here \r\n\n\tsecond-line-x\nshort\n')).map((l) => l.toString()),
      ['first line here', 'second-line-x', 'short'],
    );
    const forms = encodedForms(Buffer.from(KEY)).filter((f) => f.line !== undefined);
    assert.deepEqual(
      [...new Set(forms.map((f) => f.line))],
      long.map((_, i) => i + 2),
    );
    // Armour lines are the same in every key: no pattern of their own.
    assert.ok(!forms.some((f) => f.bytes.toString().startsWith('-----')));
    // Short lines are too common to redact on their own.
    assert.equal(redact(set, 'Zm9vYg and -----END OPENSSH PRIVATE KEY-----'), 'Zm9vYg and -----END OPENSSH PRIVATE KEY-----');
  });
});
