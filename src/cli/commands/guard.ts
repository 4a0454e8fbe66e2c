/**
 * `akc guard show|set KEY VALUE` (anomaly guard settings) and `akc alerts [clear]`
 * (rotation failures, due manual rotations, guard firings). Reading needs no password;
 * changing or clearing needs the master password and is audited.
 */
import { flag, UsageError } from '../args.js';
import { openVault, unlockForWrite, type CommandContext } from '../context.js';
import { formatTime, table, writeJson } from '../io.js';
import { formatGuardValue, GUARD_KEYS, normalizeGuardKey, readGuardValues, setGuardValue } from '../../core/guard/config.js';
import { clearAlerts, listAlerts } from '../../core/lifecycle/alerts.js';

export async function show(ctx: CommandContext): Promise<void> {
  if (ctx.args.positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(ctx.args.positionals[0])}`);
  const vault = await openVault(ctx);
  try {
    const values = readGuardValues(vault.db);
    const open = listAlerts(vault.db, { kind: 'guard.fired' });
    if (ctx.json) {
      return writeJson(ctx.io, {
        settings: Object.fromEntries(Object.keys(GUARD_KEYS).map((k) => [k, values[k]])),
        alerts: open.map((a) => ({
          id: a.id,
          at: new Date(a.ts).toISOString(),
          rule: a.rule,
          agent: a.agent,
          message: a.message,
          detail: a.detail,
        })),
      });
    }
    ctx.io.stdout.write(
      table(
        ['SETTING', 'VALUE', 'DEFAULT', 'MEANING'],
        Object.entries(GUARD_KEYS).map(([k, spec]) => [
          k,
          formatGuardValue(k, values[k]),
          formatGuardValue(k, spec.default),
          spec.description,
        ]),
      ),
    );
    ctx.io.stdout.write(
      open.length
        ? `\n${open.length} open guard alert(s); see \`akc alerts\`.\n`
        : '\nNo open guard alerts. Canary secrets: `akc secret set NAME --canary` (or `akc secret policy NAME --canary`).\n',
    );
  } finally {
    vault.close();
  }
}

export async function set(ctx: CommandContext): Promise<void> {
  const [key, value, extra] = ctx.args.positionals;
  if (!key || value === undefined) throw new UsageError('usage: akc guard set KEY VALUE');
  if (extra !== undefined) throw new UsageError(`unexpected argument ${JSON.stringify(extra)}`);
  const full = normalizeGuardKey(key);
  // Check the value before asking for the password.
  GUARD_KEYS[full]!.parse(value);
  const vault = await openVault(ctx);
  try {
    const password = await unlockForWrite(ctx, vault);
    password.fill(0);
    const stored = setGuardValue(vault, full, value, 'cli');
    if (ctx.json) return writeJson(ctx.io, { key: full, value: stored });
    ctx.io.stdout.write(`${full} = ${formatGuardValue(full, stored)}\n`);
  } finally {
    vault.close();
  }
}

export async function alerts(ctx: CommandContext): Promise<void> {
  if (ctx.args.positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(ctx.args.positionals[0])}`);
  const vault = await openVault(ctx);
  try {
    const list = listAlerts(vault.db, { all: flag(ctx.args, 'all') });
    if (ctx.json) {
      return writeJson(ctx.io, {
        alerts: list.map((a) => ({
          id: a.id,
          at: new Date(a.ts).toISOString(),
          kind: a.kind,
          secret: a.secret,
          rule: a.rule,
          agent: a.agent,
          message: a.message,
          detail: a.detail,
          clearedAt: a.clearedAt === null ? null : new Date(a.clearedAt).toISOString(),
          clearedBy: a.clearedBy,
        })),
      });
    }
    if (list.length === 0) {
      ctx.io.stdout.write('No open alerts.\n');
      return;
    }
    ctx.io.stdout.write(
      table(
        ['ID', 'TIME', 'KIND', 'SECRET', 'MESSAGE', ...(flag(ctx.args, 'all') ? ['CLEARED'] : [])],
        list.map((a) => [
          String(a.id),
          formatTime(a.ts),
          a.kind === 'guard.fired' ? `guard ${a.rule}` : a.kind,
          a.secret ?? '-',
          a.message,
          ...(flag(ctx.args, 'all') ? [a.clearedAt === null ? '-' : `${formatTime(a.clearedAt)} (${a.clearedBy ?? '?'})`] : []),
        ]),
      ),
    );
  } finally {
    vault.close();
  }
}

export async function clear(ctx: CommandContext): Promise<void> {
  const [idText, extra] = ctx.args.positionals;
  const all = flag(ctx.args, 'all');
  if (extra !== undefined) throw new UsageError(`unexpected argument ${JSON.stringify(extra)}`);
  if ((idText === undefined) === !all) throw new UsageError('give an alert ID or --all');
  if (idText !== undefined && !/^\d+$/.test(idText)) throw new UsageError('an alert ID is a number (see `akc alerts`)');
  const vault = await openVault(ctx);
  try {
    const password = await unlockForWrite(ctx, vault);
    password.fill(0);
    const n = clearAlerts(vault, all ? { all: true } : { id: Number(idText) }, 'cli');
    if (ctx.json) return writeJson(ctx.io, { cleared: n });
    ctx.io.stdout.write(n ? `Cleared ${n} alert(s).\n` : 'Nothing to clear.\n');
  } finally {
    vault.close();
  }
}
