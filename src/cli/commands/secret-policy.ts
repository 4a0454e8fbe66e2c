/**
 * Secret lifecycle administration: `akc secret policy`, `akc secret prune`,
 * `akc secret revoke-grants`, and the lifecycle fields `secret show` / `secret list`
 * and `akc status` print. Offline admin (opens the vault directly); every change needs
 * the master password and is audited.
 */
import type { Database } from 'better-sqlite3';
import { AkcError } from '../../shared/errors.js';
import { secretNameProblem } from '../../shared/secrets.js';
import { flag, option, UsageError } from '../args.js';
import { openVault, unlockForWrite, type CommandContext } from '../context.js';
import { formatTime, writeJson } from '../io.js';
import { parseDuration } from './agent.js';
import { lifecycleJson } from '../../core/views/secrets.js';
import { applyPolicy, requireLifecycle, type Lifecycle, type PolicyPatch } from '../../core/lifecycle/policy.js';
import { parseRotator } from '../../core/lifecycle/rotators.js';
import { webhookKey } from '../../core/lifecycle/webhook.js';
import { pruneVersions, revokeGrantsForSecret } from '../../core/lifecycle/rotation.js';
import type { LifecycleSnapshot } from '../../core/lifecycle/status.js';

function nameArg(ctx: CommandContext): string {
  const [name, extra] = ctx.args.positionals;
  if (!name) throw new UsageError('missing secret NAME');
  if (extra !== undefined) throw new UsageError(`unexpected argument ${JSON.stringify(extra)}`);
  const problem = secretNameProblem(name);
  if (problem) throw new UsageError(`invalid secret name: ${problem}`);
  return name;
}

/** The lifecycle fields of `secret show --json` / `secret list --json` (built in core, as the hardened host does). */
export { lifecycleJson };

/** The lifecycle lines of `secret show` and `secret policy`, from the JSON fields (either mode). */
export function lifecycleLinesOf(name: string, j: Record<string, unknown>): string[] {
  if (!('grace' in j)) return [];
  const time = (v: unknown): string => formatTime(typeof v === 'string' ? v : null);
  const pending = j.rotationPendingSince;
  return [
    `purpose      ${String(j.purpose || '-')}`,
    `expires      ${j.expiresAt === null ? 'never' : `${time(j.expiresAt)}${j.expired === true ? ' (EXPIRED: refused to agents)' : ''}`}`,
    `rotator      ${typeof j.rotator === 'string' ? j.rotator : 'none (manual)'}`,
    `rotation     ${j.rotateEvery === null ? 'not scheduled' : `every ${String(j.rotateEvery)}`} · grace ${String(j.grace)}`,
    `next         ${j.nextRotationAt === null ? '-' : time(j.nextRotationAt)}${pending !== null ? ` (webhook pending since ${time(pending)}: finish with \`akc rotate ${name} --value-stdin\`)` : ''}`,
    `rotated      ${j.lastRotatedAt === null ? 'never' : time(j.lastRotatedAt)}`,
    ...(j.canary === true ? ['canary       yes: any agent request for it fires the anomaly guard'] : []),
  ];
}

/** The lifecycle lines of a secret in this vault. */
export function lifecycleLines(db: Database, name: string): string[] {
  return lifecycleLinesOf(name, lifecycleJson(db, name));
}

function policyPatch(ctx: CommandContext): PolicyPatch {
  const a = ctx.args;
  const patch: PolicyPatch = {};
  const owner = option(a, 'owner');
  if (owner !== undefined) patch.owner = owner;
  const purpose = option(a, 'purpose');
  if (purpose !== undefined) patch.purpose = purpose;
  const expiresIn = option(a, 'expires-in');
  if (expiresIn !== undefined && flag(a, 'no-expiry')) throw new UsageError('choose --expires-in or --no-expiry, not both');
  if (expiresIn !== undefined) patch.expiresInMs = parseDuration(expiresIn, '--expires-in');
  if (flag(a, 'no-expiry')) patch.expiresInMs = null;
  const every = option(a, 'rotate-every');
  if (every !== undefined && flag(a, 'no-rotation')) throw new UsageError('choose --rotate-every or --no-rotation, not both');
  if (every !== undefined) patch.rotateEveryMs = parseDuration(every, '--rotate-every');
  if (flag(a, 'no-rotation')) patch.rotateEveryMs = null;
  const grace = option(a, 'grace');
  if (grace !== undefined) patch.graceMs = /^0+[smhdw]?$/.test(grace.trim()) ? 0 : parseDuration(grace, '--grace');
  const rotator = option(a, 'rotator');
  if (rotator !== undefined) {
    parseRotator(rotator); // usage problems before the password prompt
    patch.rotator = rotator;
  }
  if (flag(a, 'canary') && flag(a, 'no-canary')) throw new UsageError('choose --canary or --no-canary, not both');
  if (flag(a, 'canary')) patch.canary = true;
  if (flag(a, 'no-canary')) patch.canary = false;
  return patch;
}

/** `akc secret policy NAME [...]`: set lifecycle metadata; with no option, show it. */
export async function policy(ctx: CommandContext): Promise<void> {
  const name = nameArg(ctx);
  const patch = policyPatch(ctx);
  const newKey = flag(ctx.args, 'new-webhook-key');
  const vault = await openVault(ctx);
  try {
    requireLifecycle(vault.db, name); // NOT_FOUND before the password prompt
    const changing = Object.keys(patch).length > 0 || newKey;
    let lifecycle: Lifecycle = requireLifecycle(vault.db, name);
    let keyShown = false;
    if (changing) {
      const password = await unlockForWrite(ctx, vault);
      password.fill(0);
      lifecycle = applyPolicy(vault, name, patch, 'cli');
      const spec = lifecycle.rotator ? parseRotator(lifecycle.rotator) : null;
      if (newKey && spec?.kind !== 'webhook') throw new UsageError('--new-webhook-key needs a webhook rotator (--rotator webhook:URL)');
      if (spec?.kind === 'webhook') {
        const k = webhookKey(vault, name, { create: true, reset: newKey, by: 'cli' });
        if (k?.created) {
          // Shown once, on stderr (never argv, never stdout): configure the receiver with it.
          ctx.io.stderr.write(
            `akc: webhook signing key for ${name} (shown once; configure your receiver with it):\n${k.key.toString('utf8')}\n` +
              'akc: requests carry X-AKC-Timestamp and X-AKC-Signature: sha256=HMAC-SHA256(key, "<timestamp>.<body>")\n',
          );
          keyShown = true;
        }
        k?.key.fill(0);
      }
    }
    if (ctx.json)
      return writeJson(ctx.io, {
        name,
        owner: lifecycle.owner,
        ...lifecycleJson(vault.db, name),
        ...(keyShown ? { webhookKeyShown: true } : {}),
      });
    if (changing) ctx.io.stdout.write(`Updated the lifecycle policy of ${name}.\n`);
    ctx.io.stdout.write([`owner        ${lifecycle.owner || '-'}`, ...lifecycleLines(vault.db, name)].join('\n') + '\n');
  } finally {
    vault.close();
  }
}

export async function prune(ctx: CommandContext): Promise<void> {
  const name = nameArg(ctx);
  const keepText = option(ctx.args, 'keep');
  if (keepText === undefined) throw new UsageError('missing --keep N (how many of the newest versions to keep)');
  const keep = Number(keepText);
  if (!/^\d+$/.test(keepText) || keep < 1) throw new UsageError('--keep takes a positive integer');
  const vault = await openVault(ctx);
  try {
    requireLifecycle(vault.db, name);
    const password = await unlockForWrite(ctx, vault);
    password.fill(0);
    const deleted = pruneVersions(vault, name, keep, 'cli');
    if (ctx.json) return writeJson(ctx.io, { name, deleted });
    ctx.io.stdout.write(
      deleted.length ? `Deleted ${deleted.length} old version(s) of ${name}: ${deleted.join(', ')}.\n` : `Nothing to prune for ${name}.\n`,
    );
  } finally {
    vault.close();
  }
}

export async function revokeGrants(ctx: CommandContext): Promise<void> {
  const name = nameArg(ctx);
  const vault = await openVault(ctx);
  try {
    requireLifecycle(vault.db, name);
    const password = await unlockForWrite(ctx, vault);
    password.fill(0);
    const r = revokeGrantsForSecret(vault, name, 'cli');
    if (ctx.json) return writeJson(ctx.io, { name, grants: r.grants, leases: r.leases });
    ctx.io.stdout.write(
      `Revoked ${r.grants.length} grant(s) and ${r.leases} lease(s) for ${name}; every agent must be approved again.\n` +
        (r.grants.length ? `Grants: ${r.grants.join(', ')}\n` : ''),
    );
  } catch (err) {
    if (err instanceof AkcError) throw err;
    throw new AkcError('INTERNAL', `failed to revoke the grants for ${name}`, { cause: err });
  } finally {
    vault.close();
  }
}

export function statusLines(s: LifecycleSnapshot): string[] {
  const lines: string[] = [];
  for (const e of s.expiring) {
    lines.push(
      `warning    ${e.name} ${e.expired ? 'EXPIRED' : 'expires'} ${formatTime(e.expiresAt)}${e.expired ? ' (refused to agents)' : ''}`,
    );
  }
  for (const f of s.rotationFailures) lines.push(`alert      rotation of ${f.secret} failed (${formatTime(f.at)}): ${f.message}`);
  for (const d of s.rotationsDue) lines.push(`alert      ${d.message}`);
  for (const p of s.pendingRotations)
    lines.push(`pending    ${p.secret}: webhook accepted; finish with \`akc rotate ${p.secret} --value-stdin\``);
  for (const g of s.guardAlerts) lines.push(`alert      guard ${g.rule} fired (${formatTime(g.ts)}): ${g.message}`);
  if (s.rotationFailures.length + s.rotationsDue.length + s.guardAlerts.length > 0)
    lines.push('           see `akc alerts`; clear with `akc alerts clear ID|--all`');
  return lines;
}

/** The `akc status --json` fields: `expiring`, `rotationFailures`, `alerts` (guard firings and due manual rotations). */
export function lifecycleReport(s: LifecycleSnapshot): {
  expiring: { name: string; expiresAt: string; expired: boolean }[];
  rotationFailures: { id: number; secret: string; at: string; message: string }[];
  alerts: { id: number; kind: string; at: string; secret: string | null; rule: string | null; message: string }[];
} {
  const at = (ms: number): string => new Date(ms).toISOString();
  return {
    expiring: s.expiring.map((e) => ({ name: e.name, expiresAt: at(e.expiresAt), expired: e.expired })),
    rotationFailures: s.rotationFailures.map((f) => ({ id: f.id, secret: f.secret, at: at(f.at), message: f.message })),
    alerts: [
      ...s.rotationsDue.map((d) => ({ id: d.id, kind: 'rotation.due', at: at(d.at), secret: d.secret, rule: null, message: d.message })),
      ...s.guardAlerts.map((g) => ({ id: g.id, kind: g.kind, at: at(g.ts), secret: g.secret, rule: g.rule, message: g.message })),
    ],
  };
}
