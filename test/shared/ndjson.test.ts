import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LineSplitter } from '../../src/shared/ndjson.js';
import type { LineSplitterOptions } from '../../src/shared/ndjson.js';

const enc = new TextEncoder();

/** A splitter that records what it reports, in order. */
function recorder(maxLineBytes: number, extra: Partial<LineSplitterOptions> = {}) {
  const events: string[] = [];
  const splitter = new LineSplitter({
    maxLineBytes,
    onLine: (line) => events.push(`line:${line}`),
    onOverflow: () => events.push('overflow'),
    ...extra,
  });
  return { events, splitter, push: (s: string | Uint8Array) => splitter.push(typeof s === 'string' ? enc.encode(s) : s) };
}

describe('LineSplitter', () => {
  it('splits many lines in one chunk and keeps the tail for later', () => {
    const r = recorder(100);
    r.push('a\nbb\nccc\ndd');
    assert.deepEqual(r.events, ['line:a', 'line:bb', 'line:ccc']);
    r.push('d\n');
    assert.deepEqual(r.events, ['line:a', 'line:bb', 'line:ccc', 'line:ddd']);
  });

  it('joins a line split across many chunks, including inside a UTF-8 character', () => {
    const r = recorder(100);
    const bytes = enc.encode('{"name":"héllo 🔑 wörld"}\n');
    for (let i = 0; i < bytes.length; i++) r.push(bytes.subarray(i, i + 1));
    assert.deepEqual(r.events, ['line:{"name":"héllo 🔑 wörld"}']);
  });

  it('strips \\r\\n and skips empty lines', () => {
    const r = recorder(100);
    r.push('a\r\n\r\n\nb\r');
    r.push('\nc\n');
    assert.deepEqual(r.events, ['line:a', 'line:b', 'line:c']);
  });

  it('accepts a line of exactly the limit, with either terminator', () => {
    const r = recorder(8);
    r.push('12345678\n12345678\r\n');
    r.push('1234');
    r.push('5678\r');
    r.push('\n');
    assert.deepEqual(r.events, ['line:12345678', 'line:12345678', 'line:12345678']);
  });

  it('reports a line one byte over the limit', () => {
    const r = recorder(8);
    r.push('123456789\nok\n');
    assert.deepEqual(r.events, ['overflow', 'line:ok']);
    const s = recorder(8);
    s.push('1234');
    s.push('56789');
    s.push('\r\nok\n');
    assert.deepEqual(s.events, ['overflow', 'line:ok']);
  });

  it('reports an oversized line once, early, and discards it up to its newline', () => {
    const r = recorder(16);
    r.push('x'.repeat(10));
    assert.deepEqual(r.events, []);
    r.push('x'.repeat(10)); // now 20 > 16 + 1: reported before any newline arrives
    assert.deepEqual(r.events, ['overflow']);
    for (let i = 0; i < 1000; i++) r.push('y'.repeat(100));
    assert.deepEqual(r.events, ['overflow']);
    r.push('zzz\nnext\n');
    assert.deepEqual(r.events, ['overflow', 'line:next']);
  });

  it('stops at once when a callback closes it', () => {
    const events: string[] = [];
    const splitter: LineSplitter = new LineSplitter({
      maxLineBytes: 4,
      onLine: (line) => events.push(line),
      onOverflow: () => {
        events.push('overflow');
        splitter.close();
      },
    });
    splitter.push(enc.encode('a\ntoolong\nb\n'));
    splitter.push(enc.encode('c\n'));
    assert.deepEqual(events, ['a', 'overflow']);
    assert.ok(splitter.isClosed);
  });

  it('reports invalid UTF-8 when asked, else decodes it as U+FFFD', () => {
    const bad = new Uint8Array([0x7b, 0xff, 0xfe, 0x7d, 0x0a, 0x6f, 0x6b, 0x0a]);
    const strict = recorder(100, { onInvalidUtf8: () => strict.events.push('invalid') });
    strict.push(bad);
    assert.deepEqual(strict.events, ['invalid', 'line:ok']);
    const lenient = recorder(100);
    lenient.push(bad);
    assert.deepEqual(lenient.events, ['line:{\uFFFD\uFFFD}', 'line:ok']);
  });

  it('copies buffered bytes, so callers may reuse their chunk', () => {
    const r = recorder(100);
    const chunk = enc.encode('abc');
    r.push(chunk);
    chunk.fill(0x21);
    r.push('\n');
    assert.deepEqual(r.events, ['line:abc']);
  });

  it('drops an unterminated tail at end()', () => {
    const r = recorder(100);
    r.push('a\nhalf');
    assert.equal(r.splitter.end(), 4);
    r.push('\n');
    assert.deepEqual(r.events, ['line:a']);
  });

  it('handles big inputs in linear time: many lines per chunk, one line in many chunks', () => {
    const count = 100_000;
    const lines: string[] = [];
    const splitter = new LineSplitter({
      maxLineBytes: 65536,
      onLine: (line) => lines.push(line),
      onOverflow: () => assert.fail('no overflow expected'),
    });
    splitter.push(enc.encode('{"jsonrpc":"2.0","id":1}\n'.repeat(count)));
    assert.equal(lines.length, count);

    // A maximal line fed one byte at a time: quadratic joining would take minutes here.
    const big = enc.encode(`${'q'.repeat(65536)}\n`);
    for (let i = 0; i < big.length; i++) splitter.push(big.subarray(i, i + 1));
    assert.equal(lines.length, count + 1);
    assert.equal(lines[count]?.length, 65536);
  });

  it('rejects a nonsensical limit', () => {
    assert.throws(() => recorder(0), RangeError);
    assert.throws(() => recorder(1.5), RangeError);
  });
});
