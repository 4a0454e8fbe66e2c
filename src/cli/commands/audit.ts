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
import type { AuditEntry, AuditRow } from '../../core/audit/chain.js';
import type { AuditQuery } from '../../core/audit/log.js';
import { snapshotAudit, verifyAudit, type StoredCheckpoint } from '../../core/audit/verify.js';
import type { Vault } from '../../core/vault/vault.js';
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

export async function list(ctx: CommandContext): Promise<number> {
  positionals(ctx, []);
  const limit = parseLimit(ctx);
  const sinceText = option(ctx.args, 'since');
  const filters: AuditQuery = {
    ...(option(ctx.args, 'agent') !== undefined ? { agent: option(ctx.args, 'agent')! } : {}),
    ...(option(ctx.args, 'secret') !== undefined ? { secret: option(ctx.args, 'secret')! } : {}),
    ...(sinceText !== undefined ? { sinceTs: parseSince(sinceText, Date.now()) } : {}),
  };
  const follow = flag(ctx.args, 'follow');
  const vault = await openVault(ctx);
  try {
    const head = vault.audit.headSeq();
    // The newest `limit` matching entries, oldest first.
    const entries = vault.audit.query({ ...filters, beforeSeq: head + 1, limit: limit + 1, order: 'desc' }).reverse();
    const truncated = entries.length > limit;
    if (truncated) entries.shift();
    if (follow) return await followLog(ctx, vault, filters, entries, head);
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
  } finally {
    vault.close();
  }
}

/** Prints the given entries, then polls the database for new ones until SIGINT/SIGTERM. */
async function followLog(ctx: CommandContext, vault: Vault, filters: AuditQuery, initial: AuditEntry[], head: number): Promise<number> {
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
    const poll = (): void => {
      try {
        const now = vault.audit.headSeq();
        if (now <= last) return;
        print(vault.audit.query({ ...filters, afterSeq: last, beforeSeq: now + 1, limit: MAX_LIMIT, order: 'asc' }));
        last = now;
      } catch (err) {
        ctx.note(`error: failed to read the audit log: ${err instanceof Error ? err.message : String(err)}`);
        stop(1);
      }
    };
    const timer = setInterval(poll, FOLLOW_INTERVAL_MS);
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    ctx.io.stdout.on('error', onOutputError);
  });
}

export async function verify(ctx: CommandContext): Promise<number> {
  // Hardened mode: the vault belongs to the service user; ask the host (service-admin.ts).
  if (ctx.paths.service) return (await import('./service-admin.js')).auditVerify(ctx);
  positionals(ctx, []);
  const vault = await openVault(ctx);
  try {
    // Unlocking checkpoints the current head. Take the anchor and the checkpoints as they
    // were before, so a chain changed since is judged against the old signatures.
    const before = snapshotAudit(vault.db, vault.dataDir);
    const macKey = await unlockIfPossible(ctx, vault);
    const r = verifyAudit(vault.db, vault.id, before, macKey);
    if (!r.ok && macKey) restoreCheckpoints(vault, before.checkpoints);
    if (ctx.json) {
      writeJson(ctx.io, {
        ok: r.ok,
        entries: r.entries,
        checkpointsChecked: r.checkpointsChecked,
        checkpoints: r.checkpoints,
        ...(r.first ? { firstBadSeq: r.first.seq, problem: r.first.problem, problems: r.problems, anchor: r.anchor } : {}),
        ...(r.warnings.length > 0 ? { warnings: r.warnings } : {}),
      });
    }
    if (r.first) {
      throw new AkcError('CORRUPT', `audit log altered at entry ${r.first.seq}: ${r.first.problem}`, {
        hint:
          before.anchor.kind === 'missing' && r.first.problem.includes('anchor file')
            ? 'a vault last opened by a version without audit anchors gets one at its next unlock (with an alert); otherwise keep a copy of vault.db for investigation'
            : 'keep a copy of vault.db (and audit-anchor) for investigation; `akc audit export` shows the entries',
      });
    }
    if (!ctx.json) {
      ctx.io.stdout.write(
        macKey
          ? `verified · ${r.entries} entries · ${r.checkpoints} checkpoint${r.checkpoints === 1 ? '' : 's'}\n`
          : `verified · ${r.entries} entries · checkpoints not checked (the vault stayed locked)\n`,
      );
      for (const w of r.warnings) ctx.note(`warning: ${w}`);
      if (!macKey) ctx.note('hint: pass --password-stdin (or turn on keychain unlock) to also check the signed checkpoints');
    }
    return 0;
  } finally {
    vault.close();
  }
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

/** Puts back the checkpoints unlocking replaced, so the evidence of an alteration stays. */
function restoreCheckpoints(vault: Vault, before: StoredCheckpoint[]): void {
  const put = vault.db.prepare('INSERT OR REPLACE INTO audit_checkpoints (seq, hash, mac, ts) VALUES (?, ?, ?, ?)');
  try {
    vault.db.transaction(() => {
      for (const cp of before) put.run(cp.seq, cp.hash, cp.mac, cp.ts);
    })();
  } catch {
    // Best effort: the report above stands either way.
  }
}

/** `akc audit export [--since T]`: every entry as one JSON object per line, with its hashes. */
export async function exportLog(ctx: CommandContext): Promise<void> {
  positionals(ctx, []);
  const sinceText = option(ctx.args, 'since');
  const since = sinceText !== undefined ? parseSince(sinceText, Date.now()) : 0;
  if (ctx.paths.service) return (await import('./service-admin.js')).auditExport(ctx, since);
  const vault = await openVault(ctx);
  try {
    const rows = vault.db.prepare('SELECT * FROM audit WHERE ts >= ? ORDER BY seq').iterate(since) as IterableIterator<AuditRow>;
    let chunk = '';
    for (const r of rows) {
      chunk += JSON.stringify(rowJson(r)) + '\n';
      if (chunk.length >= 64 * 1024) {
        await write(ctx, chunk);
        chunk = '';
      }
    }
    if (chunk) await write(ctx, chunk);
  } finally {
    vault.close();
  }
}

function rowJson(r: AuditRow): Record<string, unknown> {
  let detail: unknown = null;
  if (r.detail !== null) {
    try {
      detail = JSON.parse(r.detail);
    } catch {
      detail = { unparsable: true };
    }
  }
  return {
    seq: r.seq,
    ts: r.ts,
    time: new Date(r.ts).toISOString(),
    event: r.event,
    agent: r.agent,
    pid: r.pid,
    exe: r.exe,
    secret: r.secret,
    version: r.version,
    decision: r.decision,
    purpose: r.purpose,
    reason: r.reason,
    detail,
    prevHash: Buffer.isBuffer(r.prev_hash) ? r.prev_hash.toString('hex') : null,
    hash: Buffer.isBuffer(r.hash) ? r.hash.toString('hex') : null,
  };
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
