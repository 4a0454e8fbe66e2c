/**
 * The proxy's building blocks without a daemon: the streaming scrubber (every split
 * point, random chunkings, streams that must keep flowing, escaped and multi-line forms
 * as real programs print them) and the upstream address classification.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { Scrubber, needlesFor } from '../../src/core/proxy/scrub.js';
import { encodedForms } from '../../src/core/redact/encodings.js';
import { isPrivateAddress, pinnedLookup, resolveUpstream } from '../../src/core/proxy/address.js';
import { yamlEscape } from '../../src/cli/commands/inject.js';
import { python } from '../helpers/python.js';

const VALUE = Buffer.from('sk-live-4f9Q/x+Z=aB7"c\\d');
const R = '[REDACTED:K]';

/** Runs `chunks` through a scrubber stream; returns the output and what came out before the end. */
async function through(scrubber: Scrubber, chunks: Buffer[]): Promise<string> {
  const t = scrubber.stream();
  const out: Buffer[] = [];
  t.on('data', (d: Buffer) => out.push(d));
  const done = new Promise<void>((resolve, reject) => {
    t.on('end', resolve);
    t.on('error', reject);
  });
  for (const c of chunks) t.write(c);
  t.end();
  await done;
  return Buffer.concat(out).toString('utf8');
}

describe('streaming scrubber', () => {
  const forms = {
    raw: VALUE.toString('utf8'),
    base64: VALUE.toString('base64'),
    base64url: VALUE.toString('base64url'),
    hex: VALUE.toString('hex'),
    url: encodeURIComponent(VALUE.toString('utf8')),
    json: JSON.stringify(VALUE.toString('utf8')).slice(1, -1),
  };
  const text = Object.entries(forms)
    .map(([k, v]) => `${k}=${v};`)
    .join('\n');
  const expected = Object.keys(forms)
    .map((k) => `${k}=${R};`)
    .join('\n');

  test('scrubs the value and its encodings in a string', () => {
    const s = new Scrubber(needlesFor(VALUE), 'K');
    assert.equal(s.scrubString(text), expected);
    assert.equal(s.scrubString('nothing here'), 'nothing here');
  });

  test('finds the value split at every possible point between two chunks', async () => {
    const buf = Buffer.from(text);
    for (let cut = 0; cut <= buf.length; cut++) {
      const s = new Scrubber(needlesFor(VALUE), 'K');
      assert.equal(await through(s, [buf.subarray(0, cut), buf.subarray(cut)]), expected, `split at ${cut}`);
    }
  });

  test('random chunkings (down to one byte) give the same output', async () => {
    const noise = (n: number): string => randomBytes(n).toString('base64').replace(/[sS]/g, 'q');
    for (let round = 0; round < 200; round++) {
      const parts: string[] = [];
      const want: string[] = [];
      for (let i = 0; i < 5; i++) {
        const filler = noise(randomInt(0, 40));
        const form = Object.values(forms)[randomInt(0, 6)]!;
        parts.push(filler, form);
        want.push(filler, R);
      }
      const buf = Buffer.from(parts.join(''));
      const chunks: Buffer[] = [];
      for (let at = 0; at < buf.length;) {
        const len = randomInt(1, 12);
        chunks.push(buf.subarray(at, at + len));
        at += len;
      }
      assert.equal(await through(new Scrubber(needlesFor(VALUE), 'K'), chunks), want.join(''), `round ${round}`);
    }
  });

  test('a chunk that ends cleanly goes out at once; only a possible value prefix waits', async () => {
    const t = new Scrubber(needlesFor(VALUE), 'K').stream();
    const seen: string[] = [];
    t.on('data', (d: Buffer) => seen.push(d.toString()));
    const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
    t.write('data: {"delta":"hello"}\n\n');
    await tick();
    assert.deepEqual(seen, ['data: {"delta":"hello"}\n\n'], 'a server-sent event is not held back');
    t.write(`data: ${forms.raw.slice(0, 6)}`);
    await tick();
    assert.deepEqual(seen.slice(1), ['data: '], 'only the possible start of the value waits');
    t.write(`${forms.raw.slice(6)}\n\n`);
    t.end();
    await tick();
    assert.equal(seen.join(''), `data: {"delta":"hello"}\n\ndata: ${R}\n\n`);
  });

  test('a false start is released once it cannot be the value', async () => {
    const out = await through(new Scrubber([Buffer.from('abcabd')], 'K'), [Buffer.from('xxabcab'), Buffer.from('cabdyy')]);
    assert.equal(out, `xxabc${R}yy`);
  });

  test('a 10 MiB stream keeps constant memory and scrubs every occurrence', async () => {
    const s = new Scrubber(needlesFor(VALUE), 'K');
    const t = s.stream();
    let count = 0;
    let bytes = 0;
    let carry = '';
    t.on('data', (d: Buffer) => {
      const str = carry + d.toString('latin1');
      count += str.split(R).length - 1;
      carry = str.slice(-R.length + 1);
      bytes += d.length;
      assert.ok(!d.includes(VALUE));
    });
    const ended = new Promise((resolve) => t.on('end', resolve));
    const chunk = Buffer.concat([Buffer.alloc(65536 - VALUE.length, 'x'), VALUE]);
    const heapBefore = process.memoryUsage().heapUsed;
    for (let i = 0; i < 160; i++) {
      if (!t.write(chunk.subarray(0, 1000))) await new Promise((r) => t.once('drain', r));
      if (!t.write(chunk.subarray(1000))) await new Promise((r) => t.once('drain', r));
    }
    t.end();
    await ended;
    assert.equal(count, 160);
    assert.equal(bytes, 160 * (65536 - VALUE.length + R.length));
    assert.ok(process.memoryUsage().heapUsed - heapBefore < 64 * 1024 * 1024);
  });
});

describe('scrubber forms: the redactor’s list', () => {
  test('the needles are exactly the redactor forms, plus the extra credentials', () => {
    const token = Buffer.from('Basic dXNlcjpzZWNyZXQ=');
    const hex = (bs: Buffer[]): string[] => bs.map((b) => b.toString('hex'));
    assert.deepEqual(hex(needlesFor(VALUE, [token])), hex([...encodedForms(VALUE).map((f) => f.bytes), token]));
    // An extra equal to a form is not added twice; empty ones are dropped.
    assert.equal(needlesFor(VALUE, [Buffer.from(VALUE), Buffer.alloc(0)]).length, encodedForms(VALUE).length);
  });

  test('escaped forms as Python, bash and `akc inject --yaml` print them, split at every point', async () => {
    const v = VALUE.toString('utf8');
    const bashQ = spawnSync('bash', ['-c', 'printf %q "$1"', 'bash', v], { encoding: 'utf8' }).stdout;
    const printed = [
      python('import json,sys; print(json.dumps({"key": sys.argv[1]}), end="")', [v]),
      python('import sys; print(repr(sys.argv[1]), end="")', [v]),
      bashQ,
      `k: "${yamlEscape(v)}"`,
    ];
    const expected = [`{"key": "${R}"}`, `'${R}'`, R, `k: "${R}"`];
    const buf = Buffer.from(printed.join('\n'));
    for (let cut = 0; cut <= buf.length; cut++) {
      const s = new Scrubber(needlesFor(VALUE), 'K');
      assert.equal(await through(s, [buf.subarray(0, cut), buf.subarray(cut)]), expected.join('\n'), `split at ${cut}`);
    }
  });

  test('a multi-line value: each line, alone or in a JSON body, split at every point', async () => {
    const lines = Array.from({ length: 4 }, () => randomBytes(45).toString('base64'));
    const pem = Buffer.from(`-----BEGIN PRIVATE KEY-----\n${lines.join('\n')}\n-----END PRIVATE KEY-----\n`);
    const text = `{"line": "${lines[1]}"}\n${lines[3]}\r\n${JSON.stringify(pem.toString())}`;
    const want = `{"line": "${R}"}\n${R}\r\n"${R}"`;
    const buf = Buffer.from(text);
    for (let cut = 0; cut <= buf.length; cut += 3) {
      const s = new Scrubber(needlesFor(pem), 'K');
      assert.equal(await through(s, [buf.subarray(0, cut), buf.subarray(cut)]), want, `split at ${cut}`);
    }
    assert.equal(new Scrubber(needlesFor(pem), 'K').scrubString(`x-debug: ${lines[0]}`), `x-debug: ${R}`);
  });

  test('wipe zeroes the needles and the automaton', () => {
    const needles = needlesFor(VALUE);
    const s = new Scrubber(needles, 'K');
    s.wipe();
    for (const n of needles) assert.ok(n.every((b) => b === 0));
  });
});

describe('upstream addresses', () => {
  test('private, loopback, link-local and other special addresses are not public', () => {
    for (const a of [
      '127.0.0.1',
      '10.1.2.3',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '224.0.0.1',
      '255.255.255.255',
      '::1',
      '::',
      'fe80::1',
      'fc00::1',
      'fd12:3456::1',
      'ff02::1',
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
      '::ffff:169.254.169.254',
      '64:ff9b::10.0.0.1',
      'not-an-ip',
    ]) {
      assert.equal(isPrivateAddress(a), true, a);
    }
    for (const a of ['1.1.1.1', '8.8.8.8', '172.32.0.1', '104.18.7.192', '2606:4700::6810:7c0', '::ffff:8.8.8.8']) {
      assert.equal(isPrivateAddress(a), false, a);
    }
  });

  test('names are resolved before the check; the connection uses exactly the checked addresses', async () => {
    await assert.rejects(resolveUpstream('localhost', false), /private or local address/);
    await assert.rejects(resolveUpstream('[::1]', false), /private or local address/);
    const allowed = await resolveUpstream('127.0.0.1', true);
    assert.deepEqual(allowed, [{ address: '127.0.0.1', family: 4 }]);
    const lookup = pinnedLookup([{ address: '127.0.0.2', family: 4 }]) as unknown as (
      h: string,
      o: { all?: boolean },
      cb: (...a: unknown[]) => void,
    ) => void;
    lookup('evil.example', { all: true }, (err, list) => assert.deepEqual(list, [{ address: '127.0.0.2', family: 4 }]));
    lookup('evil.example', {}, (err, address, family) => assert.deepEqual([address, family], ['127.0.0.2', 4]));
  });
});
