/**
 * What a Host does about secret lifecycle and anomalies (composed by Host; both the
 * daemon and the desktop app get it):
 *
 * - `screen`: every agent request passes here before policy. The anomaly guard runs
 *   first (a firing locks the vault or blocks the requester, is audited as `guard.fired`
 *   and raised as an alert), then expired secrets are refused with EXPIRED, then a pinned
 *   version must be live (current, or previous within its grace period).
 * - `unlessRotated`: an allow grant made before the secret's last rotation no longer
 *   applies (the request asks again) unless it was made with --keep-on-rotate.
 * - the rotation scheduler runs while the vault is unlocked (started and stopped on the
 *   Host's 'state' events); its final failures become alerts.
 * - denials in the audit stream feed the guard's denial-spike rule.
 */
import type { Statement } from 'better-sqlite3';
import { AkcError } from '../../shared/errors.js';
import type { AuditEntry, AuditFields } from '../audit/chain.js';
import { AnomalyGuard, type GuardFiring } from '../guard/guard.js';
import type { Clock } from '../clock.js';
import type { Grant } from '../policy/grants.js';
import type { Requester } from '../policy/requester.js';
import { durableTransaction } from '../store/database.js';
import type { SecretMeta } from '../vault/secrets.js';
import type { Vault, VaultState } from '../vault/vault.js';
import { hasOpenAlert, insertAlert, type Alert, type AlertInput } from './alerts.js';
import { isExpired, readLifecycle, type Lifecycle } from './policy.js';
import { lifecycleSnapshot, type LifecycleSnapshot } from './status.js';
import { checkVersion, rotateSecret, sweepRetired, type RotateResult } from './rotation.js';
import { RotationScheduler, type SchedulerOptions, type TimerPort } from './scheduler.js';

export interface HostLifecycleOptions {
  /** Timer port for the scheduler (tests inject fake timers). */
  timers?: TimerPort;
  /** Scheduler tuning, or false to never run it. */
  scheduler?: Partial<SchedulerOptions> | false;
  commandTimeoutMs?: number;
  webhookTimeoutMs?: number;
  /** Local hour of a time, for the off-hours rule (tests inject one). */
  hourOf?: (ms: number) => number;
}

export interface Refusal {
  /** For the audit entry of the denial. */
  reason: string;
  error: AkcError;
}

/**
 * What the lifecycle needs of the host that composes it (Host supplies one): a narrow port,
 * so this module never imports the Host (no host ⇄ lifecycle import cycle).
 */
export interface LifecycleHost {
  readonly vault: Vault;
  readonly clock: Clock;
  /** Appends an audit entry now (and tells the host's listeners). */
  record(fields: AuditFields): void;
  /** Entries this module appended itself, for the host's listeners. */
  appended(entries: AuditEntry[]): void;
  /** An alert this module raised, for the host's listeners. */
  alert(alert: Alert): void;
  lock(by: string): void;
  /** The host's one block rule (an already blocked requester stays as it is). */
  block(requester: Requester, by: string, why: string): void;
  onState(listener: (state: VaultState) => void): void;
  onAudit(listener: (entries: AuditEntry[]) => void): void;
}

export class HostLifecycle {
  readonly guard: AnomalyGuard;
  readonly scheduler: RotationScheduler | null;
  private rotatedStmt: Statement | null = null;

  constructor(
    private readonly host: LifecycleHost,
    private readonly opts: HostLifecycleOptions = {},
  ) {
    this.guard = new AnomalyGuard({ db: host.vault.db, clock: host.clock, ...(opts.hourOf ? { hourOf: opts.hourOf } : {}) });
    this.scheduler =
      opts.scheduler === false
        ? null
        : new RotationScheduler(
            {
              clock: host.clock,
              ...(opts.timers ? { timers: opts.timers } : {}),
              active: () => this.host.vault.state === 'unlocked',
              due: (now) => this.dueRotations(now),
              nextDueAt: (now) => {
                const r = host.vault.db.prepare('SELECT min(next_rotation_at) AS t FROM secrets WHERE next_rotation_at > ?').get(now) as {
                  t: number | null;
                };
                return r.t;
              },
              sweep: (now) => void sweepRetired(host.vault, now),
              rotate: async (name, attempt) => {
                await this.rotate(name, { by: 'scheduler', attempt });
              },
              onFailure: (name, err, attempts) =>
                this.raise(
                  {
                    kind: 'rotation.failed',
                    secret: name,
                    message: `scheduled rotation of ${name} failed ${attempts} time(s): ${err instanceof Error ? err.message : 'error'}`,
                    detail: { attempts },
                  },
                  {
                    event: 'rotation.failed',
                    secret: name,
                    decision: 'alert',
                    reason: `gave up after ${attempts} attempt(s); alert raised`,
                  },
                ),
              onManualDue: (name) =>
                this.raise(
                  {
                    kind: 'rotation.due',
                    secret: name,
                    message: `${name} is due for rotation (manual rotator): run \`akc rotate ${name}\``,
                  },
                  { event: 'rotation.due', secret: name, decision: 'alert', reason: 'manual rotation due; alert raised' },
                ),
            },
            opts.scheduler ?? {},
          );
    host.onState((state) => {
      if (state === 'unlocked') this.scheduler?.start();
      else this.scheduler?.stop();
    });
    host.onAudit((entries) => this.observe(entries));
  }

  // ---------------------------------------------------------------- requests

  /**
   * Screens a request for `metas` (version: a pinned version, single-secret requests
   * only). Returns a refusal to audit and throw, or null to go on with policy.
   */
  screen(requester: Requester, metas: readonly SecretMeta[], version?: number): Refusal | null {
    const db = this.host.vault.db;
    const lifecycles = metas.map((m) => readLifecycle(db, m.name)).filter((l) => l !== null);
    const firing = this.guard.check(
      requester,
      metas.map((m) => m.name),
      lifecycles.filter((l) => l.canary).map((l) => l.name),
    );
    if (firing) {
      this.fire(firing);
      const what = firing.action === 'lock' ? 'locked the vault' : 'blocked this program';
      return { reason: `guard: ${firing.rule}`, error: new AkcError('DENIED', `denied: the anomaly guard ${what} (rule ${firing.rule})`) };
    }
    return this.liveness(lifecycles, version);
  }

  /**
   * Expiry and pinned-version checks only (no guard): for re-checking after a request
   * waited for a human, during which the secret may have expired or been rotated.
   */
  recheck(metas: readonly SecretMeta[], version?: number): Refusal | null {
    const db = this.host.vault.db;
    return this.liveness(
      metas.map((m) => readLifecycle(db, m.name)).filter((l) => l !== null),
      version,
    );
  }

  private liveness(lifecycles: readonly Lifecycle[], version: number | undefined): Refusal | null {
    const db = this.host.vault.db;
    const now = this.host.clock.now();
    for (const l of lifecycles) {
      if (isExpired(l, now)) {
        return {
          reason: 'expired',
          error: new AkcError('EXPIRED', `secret ${l.name} expired at ${new Date(l.expiresAt!).toISOString()}`, {
            hint: `rotate it (\`akc rotate ${l.name}\`) or change its expiry (\`akc secret policy ${l.name} --expires-in 90d\`)`,
          }),
        };
      }
    }
    if (version !== undefined && lifecycles.length === 1) {
      const l = lifecycles[0]!;
      const v = checkVersion(db, l.id, l.name, version, now);
      if (!v.ok)
        return { reason: `version ${version} ${v.code === 'EXPIRED' ? 'retired' : 'not found'}`, error: new AkcError(v.code, v.message) };
    }
    return null;
  }

  /** The grant, unless it is an allow grant made before the secret's last rotation (and not --keep-on-rotate). */
  unlessRotated(grant: Grant | null, secretName: string): Grant | null {
    if (!grant || grant.effect !== 'allow' || grant.keepOnRotate) return grant;
    this.rotatedStmt ??= this.host.vault.db.prepare('SELECT last_rotated_at AS t FROM secrets WHERE name = ?');
    const row = this.rotatedStmt.get(secretName) as { t: number | null } | undefined;
    return row?.t != null && grant.createdAt < row.t ? null : grant;
  }

  // ---------------------------------------------------------------- rotation

  /** Rotates now (tray, UI, scheduler). Failures are audited by rotateSecret and rethrown. */
  async rotate(name: string, opts: { by: string; value?: Buffer; attempt?: number }): Promise<RotateResult> {
    const result = await rotateSecret(this.host.vault, name, {
      by: opts.by,
      ...(opts.value ? { value: opts.value } : {}),
      ...(this.opts.commandTimeoutMs ? { commandTimeoutMs: this.opts.commandTimeoutMs } : {}),
      ...(this.opts.webhookTimeoutMs ? { webhookTimeoutMs: this.opts.webhookTimeoutMs } : {}),
      record: (f) => this.host.record(opts.attempt ? { ...f, detail: { ...f.detail, attempt: opts.attempt } } : f),
    });
    return result;
  }

  snapshot(): LifecycleSnapshot {
    return lifecycleSnapshot(this.host.vault.db, this.host.clock.now());
  }

  // ---------------------------------------------------------------- alerts and the guard

  private dueRotations(now: number): { name: string; manual: boolean }[] {
    const rows = this.host.vault.db
      .prepare(
        'SELECT name, rotator FROM secrets WHERE next_rotation_at IS NOT NULL AND next_rotation_at <= ? AND rotation_pending_at IS NULL',
      )
      .all(now) as { name: string; rotator: string | null }[];
    const db = this.host.vault.db;
    return rows
      .filter((r) => !hasOpenAlert(db, 'rotation.failed', r.name) && !hasOpenAlert(db, 'rotation.due', r.name))
      .map((r) => ({ name: r.name, manual: r.rotator === null || r.rotator === 'manual' }));
  }

  private observe(entries: AuditEntry[]): void {
    let fired: GuardFiring[];
    try {
      fired = this.guard.observe(entries);
    } catch {
      return;
    }
    for (const f of fired) this.fire(f);
  }

  /** Stores an alert with its audit entry (one transaction) and emits it. */
  private raise(input: AlertInput, audit: AuditFields): Alert {
    const vault = this.host.vault;
    const now = this.host.clock.now();
    let entries: AuditEntry[] = [];
    const alert = durableTransaction(vault.db, () => {
      const a = insertAlert(vault.db, input, now);
      entries = vault.audit.appendInTransaction([{ ...audit, detail: { ...audit.detail, alert: a.id } }], now, vault.auditKey);
      return a;
    });
    this.host.appended(entries);
    this.host.alert(alert);
    return alert;
  }

  /** A rule fired: audit it, raise the alert, then lock the vault or block the requester. */
  private fire(f: GuardFiring): void {
    const r = f.requester;
    // Without a known requester a block is impossible: lock instead, and say so.
    const action = f.action === 'block' && !r ? 'lock' : f.action;
    this.raise(
      {
        kind: 'guard.fired',
        rule: f.rule,
        agent: f.label,
        secret: f.secrets.join(',') || null,
        message: f.message,
        detail: { action, ...f.evidence },
      },
      {
        event: 'guard.fired',
        agent: f.label,
        pid: r?.identity.pid ?? null,
        exe: r?.identity.exe ?? null,
        secret: f.secrets.join(',') || null,
        decision: action,
        reason: `rule ${f.rule}: ${f.message}`,
        detail: { rule: f.rule, action, ...(action !== f.action ? { requested: f.action, why: 'requester unknown' } : {}), ...f.evidence },
      },
    );
    if (action === 'lock') {
      this.host.lock(`guard: ${f.rule}`);
      return;
    }
    this.block(r!, f);
  }

  private block(r: Requester, f: GuardFiring): void {
    // The one block rule (policy/block.ts): an already blocked requester is left as it is.
    this.host.block(r, `guard (${f.rule})`, `blocked by the anomaly guard (rule ${f.rule})`);
  }
}
