/**
 * Paging for the hardened host's list answers: one answer must fit one frame (64 KiB,
 * the wire protocol's limit), so a long list goes in pages the CLI fetches one after another. The cut is
 * by encoded size, not by count, since rows differ in size (paths, descriptions).
 */
import { MAX_FRAME_BYTES } from '../../shared/protocol.js';

/** Room left in a frame for the JSON-RPC envelope and the answer's other fields. */
export const PAGE_BYTES = MAX_FRAME_BYTES - 8 * 1024;

/** How many of `rows` (from the start) fit in `budget` bytes of JSON; at least one. */
export function fittingCount(rows: readonly unknown[], budget = PAGE_BYTES): number {
  let used = 0;
  for (let i = 0; i < rows.length; i++) {
    used += Buffer.byteLength(JSON.stringify(rows[i])) + 1;
    // A single row always goes (rows are bounded far below a frame by their schemas).
    if (used > budget && i > 0) return i;
  }
  return rows.length;
}

/** The rows from `offset` that fit one answer, and the offset of the next page (null: no more). */
export function pageRows<T>(rows: readonly T[], offset: number, budget = PAGE_BYTES): { rows: T[]; next: number | null } {
  const rest = rows.slice(offset);
  const n = fittingCount(rest, budget);
  return { rows: rest.slice(0, n), next: n < rest.length ? offset + n : null };
}
