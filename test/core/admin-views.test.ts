/**
 * The row builders and pagers the offline CLI and the hardened host share
 * (src/core/views): list answers cut by encoded size so each fits one frame, audit pages
 * that continue where they stopped without losing or repeating an entry, on a real
 * vault.db.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Database } from 'better-sqlite3';
import { AuditLog } from '../../src/core/audit/log.js';
import { openDatabase } from '../../src/core/store/database.js';
import { auditPage, exportPage } from '../../src/core/views/audit.js';
import { fittingCount, pageRows, PAGE_BYTES } from '../../src/core/views/page.js';
import { MAX_FRAME_BYTES } from '../../src/shared/protocol.js';
import { tempDir } from '../helpers/env.js';

const T0 = Date.parse('2025-03-01T00:00:00Z');

/** A vault.db whose entries are large (a long reason): a few hundred overflow one frame. */
function bigLog(n: number): { log: AuditLog; db: Database } {
  const db = openDatabase(tempDir(), { create: true })!;
  const log = new AuditLog(db);
  for (let i = 1; i <= n; i++) {
    log.append({ event: 'agent.add', agent: i % 2 ? 'odd' : 'even', reason: `entry ${i} `.padEnd(400, '·') }, T0 + i, null);
  }
  return { log, db };
}

describe('pageRows', () => {
  test('cuts by encoded size, continues at the next offset, and always moves on', () => {
    const rows = Array.from({ length: 10 }, (_, i) => ({ i, pad: 'x'.repeat(100) }));
    const one = Buffer.byteLength(JSON.stringify(rows[0])) + 1;
    assert.equal(fittingCount(rows, one * 3), 3);
    assert.deepEqual(pageRows(rows, 0, one * 3).next, 3);
    assert.deepEqual(pageRows(rows, 9, one * 3), { rows: [rows[9]], next: null });
    // A row larger than the budget still goes (alone), so paging never stalls.
    assert.deepEqual(pageRows(rows, 4, 10), { rows: [rows[4]], next: 5 });
    assert.deepEqual(pageRows([], 0), { rows: [], next: null });
    let offset: number | null = 0;
    const seen: unknown[] = [];
    while (offset !== null) {
      const p: { rows: unknown[]; next: number | null } = pageRows(rows, offset, one * 4);
      seen.push(...p.rows);
      offset = p.next;
    }
    assert.deepEqual(seen, rows);
  });

  test('a page of the default budget fits a frame with its envelope', () => {
    const rows = Array.from({ length: 2000 }, (_, i) => ({ name: `SECRET_${i}`, description: 'd'.repeat(200) }));
    const page = pageRows(rows, 0);
    assert.ok(page.rows.length < rows.length && page.next === page.rows.length);
    const frame = JSON.stringify({ jsonrpc: '2.0', id: 1, result: page });
    assert.ok(Buffer.byteLength(frame) < MAX_FRAME_BYTES, `${Buffer.byteLength(frame)} bytes`);
    assert.ok(PAGE_BYTES < MAX_FRAME_BYTES);
  });
});

describe('auditPage and exportPage', () => {
  test('descending pages under a byte budget return every matching entry once, newest first', () => {
    const { log } = bigLog(300);
    const seqs: number[] = [];
    let cursor: number | undefined;
    let pages = 0;
    for (;;) {
      const page = auditPage(log, { agent: 'odd', order: 'desc', limit: 500, ...(cursor ? { beforeSeq: cursor } : {}) }, PAGE_BYTES);
      pages += 1;
      assert.equal(page.head, 300);
      assert.ok(Buffer.byteLength(JSON.stringify(page)) < MAX_FRAME_BYTES);
      seqs.push(...page.entries.map((e) => e.seq));
      if (page.next === null) break;
      cursor = page.next;
    }
    assert.ok(pages > 1, 'the budget cut the answer into pages');
    assert.deepEqual(
      seqs,
      Array.from({ length: 150 }, (_, i) => 299 - 2 * i),
    );
  });

  test('ascending from a seq, a full page says there may be more, a short one says there is not', () => {
    const { log } = bigLog(20);
    const first = auditPage(log, { afterSeq: 5, order: 'asc', limit: 10 });
    assert.deepEqual(
      first.entries.map((e) => e.seq),
      [6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
    );
    assert.equal(first.next, 15);
    const rest = auditPage(log, { afterSeq: 15, order: 'asc', limit: 10 });
    assert.deepEqual(
      rest.entries.map((e) => e.seq),
      [16, 17, 18, 19, 20],
    );
    assert.equal(rest.next, null);
    assert.deepEqual(auditPage(log, { afterSeq: 20, order: 'asc', limit: 10 }), { entries: [], next: null, head: 20 });
    // Nothing past the head it reports, even if asked.
    assert.deepEqual(
      auditPage(log, { beforeSeq: 10_000, order: 'desc', limit: 2 }).entries.map((e) => e.seq),
      [20, 19],
    );
  });

  test('export pages carry the chain hashes and link up across pages', () => {
    const { db } = bigLog(250);
    const rows: Record<string, unknown>[] = [];
    let afterSeq = 0;
    for (;;) {
      const page = exportPage(db, { afterSeq, since: 0, limit: 500 }, PAGE_BYTES);
      rows.push(...page.rows);
      if (page.next === null) break;
      assert.ok(page.next > afterSeq);
      afterSeq = page.next;
    }
    assert.equal(rows.length, 250);
    for (let i = 1; i < rows.length; i++) assert.equal(rows[i]!.prevHash, rows[i - 1]!.hash);
    assert.deepEqual(
      exportPage(db, { afterSeq: 0, since: T0 + 249, limit: 10 }).rows.map((r) => r.seq),
      [249, 250],
    );
  });
});
