/**
 * The activity log: `akc audit` (query and --follow), `akc audit verify` and
 * `akc audit export` (JSON Lines). Entries hold names, decisions and ids, never a value.
 * Reading needs no password; verify unlocks when it can, to check the MAC checkpoints.
 */
import { AkcError, isAkcError } from '../../shared/errors.js';
import { flag, option, UsageError } from '../args.js';
import { openVault, unlockForRead, type CommandContext } from '../context.js';
import { formatTime, table, writeJson } from '../io.js';
import { escapeJsonForTerminal, sanitizeLine } from '../../shared/sanitize.js';
import type { AuditEntry } from '../../core/audit/chain.js';
import type { AuditQuery } from '../../core/audit/log.js';
import { verifyHint, verifyOpenedVault, verifyReportJson } from '../../core/audit/verify.js';
import type { Vault } from '../../core/vault/vault.js';
import { auditPage, localExportPager, writeAuditExport, type AuditPage } from '../../core/views/audit.js';
import { AUDIT_PAGE_MAX } from '../../shared/service-protocol.js';
import type { ServiceCaller } from '../service-client.js';
import { parseDuration, positionals } from './agent.js';

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 100_000;
const FOLLOW_INTERVAL_MS = 500;

/** `--since`: an ISO date or date-time, or a time ago like 15m, 2h, 7d. */
export function parseSince(text: string, now: number): number {
  if (/^\d{4}-\d{2}-\d{2}/.test(text)) {
    const ms = Date.parse(text);
    if (Number.isNaN(ms)) throw new UsageError(`invalid --since ${JSON.stringify(text)}: not a valid date`);
    return ms;
  }
  if (!/^(\d+[smhdw])+$/.test(text)) {
    throw new UsageError(
      `invalid --since ${JSON.stringify(text)}: use an ISO date (2025-01-31, 2025-01-31T12:00:00Z) or a time ago like 15m, 2h, 7d`,
    );
  }
  return now - parseDuration(text, '--since');
}

function parseLimit(ctx: CommandContext): number {
  const text = option(ctx.args, 'limit');
  if (text === undefined) return DEFAULT_LIMIT;
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > MAX_LIMIT) {
    throw new UsageError(`invalid --limit ${JSON.stringify(text)}: expected a whole number from 1 to ${MAX_LIMIT}`);
  }
  return Number(text);
}

export function entryJson(e: AuditEntry): Record<string, unknown> {
  return {
    seq: e.seq,
    time: new Date(e.ts).toISOString(),
    event: e.event,
    agent: e.agent,
    pid: e.pid,
    exe: e.exe,
    secret: e.secret,
    version: e.version,
    decision: e.decision,
    purpose: e.purpose,
    reason: e.reason,
    detail: e.detail,
  };
}

/** Agents choose their purpose text and program names: never let them drive the terminal. */
function clean(s: string): string {
  return sanitizeLine(s);
}

function details(e: AuditEntry): string {
  const parts: string[] = [];
  if (e.purpose) parts.push(`purpose "${e.purpose}" (claimed)`);
  if (e.reason) parts.push(e.reason);
  if (e.pid !== null) parts.push(`pid ${e.pid}`);
  if (e.detail) {
    const d = Object.entries(e.detail)
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' ');
    parts.push(d.length > 160 ? d.slice(0, 159) + '…' : d);
  }
  return parts.join(' · ');
}

function entryCells(e: AuditEntry): string[] {
  return [
    String(e.seq),
    formatTime(e.ts),
    e.event,
    e.agent ?? '-',
    e.secret ? (e.version !== null ? `${e.secret} v${e.version}` : e.secret) : '-',
    e.decision ?? '-',
    details(e),
  ].map(clean);
}

const HEADERS = ['SEQ', 'TIME', 'EVENT', 'AGENT', 'SECRET', 'DECISION', 'DETAILS'];
/** --follow cannot size columns to rows it has not seen yet: fixed minimum widths instead. */
const FOLLOW_WIDTHS = [5, 20, 16, 14, 20, 8];

function followLine(cells: string[]): string {
  return cells
    .map((c, i) => (i < FOLLOW_WIDTHS.length ? c.padEnd(FOLLOW_WIDTHS[i]!) : c))
    .join('  ')
    .trimEnd();
}

/** One page of the log (core/views/audit.ts), read here from vault.db or asked of the hardened host. */
type AuditPager = (q: AuditQuery & { limit: number; order: 'asc' | 'desc' }) => Promise<AuditPage>;

function localPager(vault: Vault): AuditPager {
  return (q) => Promise.resolve(auditPage(vault.audit, q));
}

function servicePager(call: ServiceCaller): AuditPager {
  return async (q) => {
    const r = await call('audit.query', {
      ...(q.agent !== undefined ? { agent: q.agent } : {}),
      ...(q.secret !== undefined ? { secret: q.secret } : {}),
      ...(q.sinceTs !== undefined ? { since: q.sinceTs } : {}),
      ...(q.afterSeq !== undefined ? { afterSeq: q.afterSeq } : {}),
      ...(q.beforeSeq !== undefined ? { beforeSeq: q.beforeSeq } : {}),
      limit: Math.min(q.limit, AUDIT_PAGE_MAX),
      order: q.order,
    });
    return { entries: r.entries as unknown as AuditEntry[], next: r.next, head: r.head };
  };
}

/** Up to `want` entries of `q`, page after page (pages may come shorter than asked). */
async function collect(
  pager: AuditPager,
  q: AuditQuery & { order: 'asc' | 'desc' },
  want: number,
): Promise<{ entries: AuditEntry[]; head: number }> {
  const entries: AuditEntry[] = [];
  let head: number | null = null;
  let cursor: number | undefined;
  while (entries.length < want) {
    const cursorField = cursor === undefined ? {} : q.order === 'desc' ? { beforeSeq: cursor } : { afterSeq: cursor };
    const page = await pager({ ...q, ...cursorField, limit: Math.min(want - entries.length, LOCAL_PAGE) });
    head ??= page.head;
    entries.push(...page.entries);
    if (page.next === null) break;
    if (cursor !== undefined && (q.order === 'desc' ? page.next >= cursor : page.next <= cursor)) {
      throw new AkcError('PROTOCOL', 'failed to read the audit log: a page did not advance');
    }
    cursor = page.next;
  }
  return { entries, head: head ?? 0 };
}

/** Entries per page when reading vault.db here (the host cuts its pages smaller, by size). */
const LOCAL_PAGE = 10_000;

export async function list(ctx: CommandContext): Promise<number> {
  positionals(ctx, []);
  const limit = parseLimit(ctx);
  const sinceText = option(ctx.args, 'since');
  const filters: AuditQuery = {
    ...(option(ctx.args, 'agent') !== undefined ? { agent: option(ctx.args, 'agent')! } : {}),
    ...(option(ctx.args, 'secret') !== undefined ? { secret: option(ctx.args, 'secret')! } : {}),
    ...(sinceText !== undefined ? { sinceTs: parseSince(sinceText, Date.now()) } : {}),
  };
  // The same reading and printing in both modes; only where the pages come from differs.
  if (ctx.paths.service) {
    const { withService } = await import('../service-client.js');
    return withService(ctx, 'read the audit log', (call) => listFrom(ctx, servicePager(call), filters, limit));
  }
  const vault = await openVault(ctx);
  try {
    return await listFrom(ctx, localPager(vault), filters, limit);
  } finally {
    vault.close();
  }
}

async function listFrom(ctx: CommandContext, pager: AuditPager, filters: AuditQuery, limit: number): Promise<number> {
  // The newest `limit` matching entries, oldest first.
  const { entries: newest, head } = await collect(pager, { ...filters, order: 'desc' }, limit + 1);
  const entries = newest.reverse();
  const truncated = entries.length > limit;
  if (truncated) entries.shift();
  if (flag(ctx.args, 'follow')) return followLog(ctx, pager, filters, entries, head);
  if (ctx.json) {
    writeJson(ctx.io, { entries: entries.map(entryJson), truncated });
    return 0;
  }
  if (entries.length === 0) {
    ctx.io.stdout.write('No matching audit entries.\n');
    return 0;
  }
  ctx.io.stdout.write(table(HEADERS, entries.map(entryCells)));
  if (truncated) ctx.note(`showing the newest ${limit} entries; see more with --limit N or narrow with --since`);
  return 0;
}

/** Prints the given entries, then polls for new ones until SIGINT/SIGTERM. */
async function followLog(
  ctx: CommandContext,
  pager: AuditPager,
  filters: AuditQuery,
  initial: AuditEntry[],
  head: number,
): Promise<number> {
  const print = (entries: AuditEntry[]): void => {
    for (const e of entries) {
      ctx.io.stdout.write(ctx.json ? escapeJsonForTerminal(JSON.stringify(entryJson(e))) + '\n' : followLine(entryCells(e)) + '\n');
    }
  };
  if (!ctx.json) ctx.io.stdout.write(followLine(HEADERS) + '\n');
  print(initial);
  if (!ctx.json) ctx.note('following the audit log; press Ctrl-C to stop');
  let last = head;
  return new Promise<number>((resolve) => {
    let stopped = false;
    let polling = false;
    const stop = (code: number): void => {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      ctx.io.stdout.off('error', onOutputError);
      resolve(code);
    };
    const onSignal = (): void => stop(0);
    // A closed pipe (`akc audit --follow | head`) ends the command quietly.
    const onOutputError = (): void => stop(0);
    const poll = async (): Promise<void> => {
      // One poll at a time: an answer from the host may take longer than the interval.
      if (polling || stopped) return;
      polling = true;
      try {
        for (;;) {
          const page = await pager({ ...filters, afterSeq: last, limit: MAX_LIMIT, order: 'asc' });
          if (stopped) return;
          print(page.entries);
          if (page.next === null) {
            last = Math.max(last, page.head);
            return;
          }
          last = page.next;
        }
      } catch (err) {
        ctx.note(`error: failed to read the audit log: ${err instanceof Error ? err.message : String(err)}`);
        stop(1);
      } finally {
        polling = false;
      }
    };
    const timer = setInterval(() => void poll(), FOLLOW_INTERVAL_MS);
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    ctx.io.stdout.on('error', onOutputError);
  });
}

export async function verify(ctx: CommandContext): Promise<number> {
  positionals(ctx, []);
  // Hardened mode: the vault belongs to the service user; the host runs the same check.
  if (ctx.paths.service) {
    const { serviceCall } = await import('../service-client.js');
    const r = (await serviceCall(ctx, 'audit.verify', {}, 'verify the audit log')) as unknown as VerifyJson;
    return printVerify(ctx, r, 'hint: unlock the host (`akc unlock`) to also check the signed checkpoints');
  }
  const vault = await openVault(ctx);
  try {
    // The snapshot is taken before unlocking (core/audit/verify.ts): unlocking signs the head.
    const r = await verifyOpenedVault(vault, () => unlockIfPossible(ctx, vault));
    return printVerify(
      ctx,
      verifyReportJson(r),
      'hint: pass --password-stdin (or turn on keychain unlock) to also check the signed checkpoints',
    );
  } finally {
    vault.close();
  }
}

type VerifyJson = ReturnType<typeof verifyReportJson>;

/** The same report, error and words in both modes; `lockedHint` says how to get the checkpoints checked. */
function printVerify(ctx: CommandContext, r: VerifyJson, lockedHint: string): number {
  if (ctx.json) writeJson(ctx.io, r);
  if (!r.ok) {
    throw new AkcError('CORRUPT', `audit log altered at entry ${String(r.firstBadSeq)}: ${String(r.problem)}`, { hint: verifyHint(r) });
  }
  if (!ctx.json) {
    ctx.io.stdout.write(
      r.checkpointsChecked
        ? `verified · ${r.entries} entries · ${r.checkpoints} checkpoint${r.checkpoints === 1 ? '' : 's'}\n`
        : `verified · ${r.entries} entries · checkpoints not checked (the vault stayed locked)\n`,
    );
    for (const w of r.warnings ?? []) ctx.note(`warning: ${w}`);
    if (!r.checkpointsChecked) ctx.note(lockedHint);
  }
  return 0;
}

/**
 * The audit MAC key if the vault can be unlocked without a terminal prompt: the keychain
 * (when keychain unlock is on) or --password-stdin. A wrong password is an error; an
 * unavailable keychain falls back to checking the chain only.
 */
async function unlockIfPossible(ctx: CommandContext, vault: Vault): Promise<Buffer | null> {
  const passwordStdin = flag(ctx.args, 'password-stdin');
  if (!passwordStdin && !vault.keychainUnlockEnabled) return null;
  try {
    await unlockForRead(ctx, vault);
  } catch (err) {
    if (passwordStdin || isAkcError(err, 'WRONG_PASSWORD')) throw err;
    ctx.note(`note: could not unlock (${err instanceof Error ? err.message : String(err)}); checking the chain only`);
    return null;
  }
  return vault.auditKey;
}

/** `akc audit export [--since T]`: every entry as one JSON object per line, with its hashes. */
export async function exportLog(ctx: CommandContext): Promise<void> {
  positionals(ctx, []);
  const sinceText = option(ctx.args, 'since');
  const since = sinceText !== undefined ? parseSince(sinceText, Date.now()) : 0;
  const out = (text: string): Promise<void> => write(ctx, text);
  // One exporter (core/views/audit.ts) in both modes; only where the pages come from differs.
  if (ctx.paths.service) {
    const { withService } = await import('../service-client.js');
    await withService(ctx, 'export the audit log', (call) =>
      writeAuditExport(async (afterSeq) => {
        const page = await call('audit.export', { afterSeq, ...(since ? { since } : {}) });
        return { rows: page.entries, next: page.next };
      }, out),
    );
    return;
  }
  const vault = await openVault(ctx);
  try {
    await writeAuditExport(localExportPager(vault.db, since), out);
  } finally {
    vault.close();
  }
}

function write(ctx: CommandContext, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(new AkcError('IO', `failed to write the export: ${err.message}`));
    ctx.io.stdout.once('error', onError);
    const drained = ctx.io.stdout.write(text);
    const done = (): void => {
      ctx.io.stdout.off('error', onError);
      resolve();
    };
    if (drained) done();
    else ctx.io.stdout.once('drain', done);
  });
}
