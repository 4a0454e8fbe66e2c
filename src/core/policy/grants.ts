/**
 * Grants: (requester, secret or glob, scope, expiry). Deny by default; a deny grant
 * ("deny & block") always wins over an allow. Read from the database on every request,
 * so changes made by `akc grant` in another process apply at once.
 *
 * Every row carries a MAC (src/core/integrity): an allow grant whose MAC is missing or
 * wrong is treated as absent; a deny grant is honoured whatever its MAC (a forged deny is
 * only a denial of service). Revoking clears the MAC, so a revoked row cannot be revived
 * by clearing `revoked_at`. While the vault is locked nothing can be verified: consume()
 * re-checks the grant (and its agent) before any value is released.
 *
 * Channels: a 'secret' grant serves secret.get/getMany; a 'proxy' grant (from approving a
 * brokered proxy call) serves only the proxy, for its binding and "METHOD /path-glob" rule.
 *
 * Commands (run-command.ts): a grant made by approving an `akc run` request is bound to
 * that command (resolved executable + argv hash) and serves only a run of the same command.
 * A run request is served by such a grant, or by a command-less grant of a registered
 * agent (`akc grant AGENT`: the admin's policy for that agent, whatever it runs); a
 * command-less grant of an unregistered program (an approval that never showed a command)
 * does not serve a run.
 */
import { randomBytes } from 'node:crypto';
import type { Database, Statement } from 'better-sqlite3';
import { AkcError } from '../../shared/errors.js';
import { AGENTS, GRANTS, checkRow, checkStored, signatureFor, type Verdict } from '../integrity/rows.js';
import { globMatch } from './glob.js';
import { grantLabel, type Requester } from './requester.js';
import type { RunUse } from './run-command.js';

export type GrantScope = 'once' | 'duration' | 'until_lock' | 'always';
export type GrantEffect = 'allow' | 'deny';
export type GrantChannel = 'secret' | 'proxy';

/** What a proxied request asks a grant to cover (see Host.authorizeProxy). */
export interface ProxyUse {
  binding: string;
  method: string;
  path: string;
}

export interface Grant {
  id: string;
  agentId: string | null;
  agentName: string | null;
  fingerprint: string | null;
  exePath: string | null;
  exeSha256: string | null;
  secretPattern: string;
  effect: GrantEffect;
  scope: GrantScope;
  expiresAt: number | null;
  usesLeft: number | null;
  keepOnRotate: boolean;
  createdAt: number;
  createdBy: string;
  revokedAt: number | null;
  channel: GrantChannel;
  /** Proxy grants: the binding and the "METHOD /path-glob" they cover. */
  proxyBinding: string | null;
  proxyRule: string | null;
  /** Bound to one `akc run` command (null: not bound). */
  runCommand: RunUse | null;
  /** The program it was approved (or blocked) for, with paths; null for agents and older grants. */
  label: string | null;
  /** A run grant's command line as the approval showed it (display only; runCommand decides). */
  runLine: string | null;
  /** Set by list(): the row's integrity verdict ('refused' rows are ignored by decide()). */
  integrity?: Verdict;
}

export interface GrantInput {
  agentId?: string | null;
  fingerprint?: string | null;
  exePath?: string | null;
  exeSha256?: string | null;
  secretPattern: string;
  effect: GrantEffect;
  scope: GrantScope;
  expiresAt?: number | null;
  usesLeft?: number | null;
  keepOnRotate?: boolean;
  createdBy: string;
  channel?: GrantChannel;
  proxyBinding?: string | null;
  proxyRule?: string | null;
  /** Binds the grant to one `akc run` command (secret channel only). */
  runCommand?: RunUse | null;
  /** For a program's grant: who it is, for humans (see Grant.label). */
  label?: string | null;
  /** With runCommand: the command line, for humans. */
  runLine?: string | null;
}

interface GrantRow {
  id: string;
  agent_id: string | null;
  agent_name: string | null;
  fingerprint: string | null;
  exe_path: string | null;
  exe_sha256: string | null;
  secret_pattern: string;
  effect: GrantEffect;
  scope: GrantScope;
  expires_at: number | null;
  uses_left: number | null;
  keep_on_rotate: number;
  created_at: number;
  created_by: string;
  revoked_at: number | null;
  channel: GrantChannel;
  proxy_binding: string | null;
  proxy_rule: string | null;
  run_exe: string | null;
  run_argv_sha256: string | null;
  program_label: string | null;
  run_line: string | null;
  row_mac: Buffer | null;
}

function toGrant(r: GrantRow): Grant {
  return {
    id: r.id,
    agentId: r.agent_id,
    agentName: r.agent_name,
    fingerprint: r.fingerprint,
    exePath: r.exe_path,
    exeSha256: r.exe_sha256,
    secretPattern: r.secret_pattern,
    effect: r.effect,
    scope: r.scope,
    expiresAt: r.expires_at,
    usesLeft: r.uses_left,
    keepOnRotate: r.keep_on_rotate === 1,
    createdAt: r.created_at,
    createdBy: r.created_by,
    revokedAt: r.revoked_at,
    channel: r.channel,
    proxyBinding: r.proxy_binding,
    proxyRule: r.proxy_rule,
    runCommand: r.run_argv_sha256 === null ? null : { exe: r.run_exe, argvSha256: r.run_argv_sha256 },
    label: r.program_label ?? null,
    runLine: r.run_line ?? null,
  };
}

/** "METHOD /path-glob": the method (or *) must be the request's, the glob must match its path. */
export function proxyRuleMatches(rule: string | null, method: string, path: string): boolean {
  if (!rule) return false;
  const space = rule.indexOf(' ');
  if (space <= 0) return false;
  const m = rule.slice(0, space);
  return (m === '*' || m === method.toUpperCase()) && globMatch(rule.slice(space + 1), path);
}

function channelMatches(row: GrantRow, use: ProxyUse | undefined): boolean {
  if (!use) return row.channel === 'secret';
  return row.channel === 'proxy' && row.proxy_binding === use.binding && proxyRuleMatches(row.proxy_rule, use.method, use.path);
}

/** Whether an allow row serves this request's command (or its lack of one); see the header. */
function commandMatches(row: GrantRow, run: RunUse | null): boolean {
  if (row.run_argv_sha256 !== null) return run !== null && row.run_argv_sha256 === run.argvSha256 && (row.run_exe ?? null) === run.exe;
  return run === null || row.agent_id !== null;
}

// The agent name as a scalar subquery rather than a LEFT JOIN (agents.id is the primary key,
// so the result is the same): with a bound parameter in the WHERE clause SQLite (STAT4)
// re-plans the join on every call, which made decide() ~8x slower.
const SELECT = 'SELECT g.*, (SELECT a.name FROM agents a WHERE a.id = g.agent_id) AS agent_name FROM grants g';

export function newGrantId(): string {
  return 'g_' + randomBytes(6).toString('hex');
}

export class GrantStore {
  /** Prepared once: decide() runs on every secret.get, and preparing costs more than the query. */
  private decideStmt: Statement | null = null;
  private consumeStmt: Statement | null = null;
  private getStmt: Statement | null = null;

  constructor(private readonly db: Database) {}

  /** Inserts a grant. Call inside the caller's (durable) transaction. */
  create(input: GrantInput, now: number): Grant {
    if (!input.agentId && !input.fingerprint) throw new AkcError('INVALID_ARGUMENT', 'a grant needs an agent or a program');
    const channel = input.channel ?? 'secret';
    if (channel === 'proxy' && (!input.proxyBinding || !input.proxyRule))
      throw new AkcError('INVALID_ARGUMENT', 'a proxy grant needs a binding and a rule');
    const run = channel === 'secret' && input.effect === 'allow' ? (input.runCommand ?? null) : null;
    if (run && !/^[0-9a-f]{64}$/.test(run.argvSha256)) throw new AkcError('INVALID_ARGUMENT', 'a command grant needs an argv SHA-256');
    // An allow for an agent whose own row is forged would hand that forgery a real grant.
    if (input.effect === 'allow' && input.agentId && checkStored(this.db, AGENTS, input.agentId) === 'refused')
      throw new AkcError('CORRUPT', 'refused to grant: the agent row failed its integrity check (changed outside Agent Keychain)');
    const row = {
      id: newGrantId(),
      agent_id: input.agentId ?? null,
      fingerprint: input.agentId ? null : (input.fingerprint ?? null),
      exe_path: input.exePath ?? null,
      exe_sha256: input.exeSha256 ?? null,
      secret_pattern: input.secretPattern,
      effect: input.effect,
      scope: input.scope,
      expires_at: input.expiresAt ?? null,
      uses_left: input.usesLeft ?? null,
      keep_on_rotate: input.keepOnRotate ? 1 : 0,
      created_at: now,
      created_by: input.createdBy,
      channel,
      proxy_binding: channel === 'proxy' ? (input.proxyBinding ?? null) : null,
      proxy_rule: channel === 'proxy' ? (input.proxyRule ?? null) : null,
      run_exe: run?.exe ?? null,
      run_argv_sha256: run?.argvSha256 ?? null,
      program_label: input.agentId ? null : (input.label ?? null),
      run_line: run ? (input.runLine ?? null) : null,
    };
    // A deny may be written while locked (the host's "deny & block" needs no unlock): a
    // forged deny is only a denial of service. Every allow is signed or not written at all.
    const mac = signatureFor(this.db, GRANTS, row, { allowUnsigned: input.effect === 'deny' });
    this.db
      .prepare(
        `INSERT INTO grants (id, agent_id, fingerprint, exe_path, exe_sha256, secret_pattern, effect, scope, expires_at, uses_left, keep_on_rotate,
           created_at, created_by, channel, proxy_binding, proxy_rule, run_exe, run_argv_sha256, program_label, run_line, row_mac)
         VALUES (@id, @agent_id, @fingerprint, @exe_path, @exe_sha256, @secret_pattern, @effect, @scope, @expires_at, @uses_left, @keep_on_rotate,
           @created_at, @created_by, @channel, @proxy_binding, @proxy_rule, @run_exe, @run_argv_sha256, @program_label, @run_line, @mac)`,
      )
      .run({ ...row, mac });
    return this.get(row.id)!;
  }

  get(id: string): Grant | null {
    const row = this.db.prepare(`${SELECT} WHERE g.id = ?`).get(id) as GrantRow | undefined;
    return row ? toGrant(row) : null;
  }

  /** Live grants (not revoked, not expired, uses left). */
  list(now: number, opts: { includeEnded?: boolean } = {}): Grant[] {
    const rows = opts.includeEnded
      ? (this.db.prepare(`${SELECT} ORDER BY g.created_at`).all() as GrantRow[])
      : (this.db
          .prepare(
            `${SELECT} WHERE g.revoked_at IS NULL AND (g.expires_at IS NULL OR g.expires_at > ?) AND (g.uses_left IS NULL OR g.uses_left > 0) ORDER BY g.created_at`,
          )
          .all(now) as GrantRow[]);
    return rows.map((r) => ({ ...toGrant(r), integrity: r.revoked_at === null ? checkRow(this.db, GRANTS, r) : 'unverified' }));
  }

  /** Returns whether a live grant was revoked. */
  revoke(id: string, now: number): boolean {
    return this.db.prepare('UPDATE grants SET revoked_at = ?, row_mac = NULL WHERE id = ? AND revoked_at IS NULL').run(now, id).changes > 0;
  }

  revokeForAgent(agentId: string, now: number): number {
    return this.db.prepare('UPDATE grants SET revoked_at = ?, row_mac = NULL WHERE agent_id = ? AND revoked_at IS NULL').run(now, agentId)
      .changes;
  }

  /**
   * A rotation of `secretName` ends the allow grants for exactly that name, except those
   * made with --keep-on-rotate (glob grants stop applying through HostLifecycle.unlessRotated).
   * Call inside the rotation's transaction. Returns how many ended.
   */
  endOnRotation(secretName: string, now: number): number {
    return this.db
      .prepare(
        "UPDATE grants SET revoked_at = ?, row_mac = NULL WHERE revoked_at IS NULL AND effect = 'allow' AND keep_on_rotate = 0 AND secret_pattern = ?",
      )
      .run(now, secretName).changes;
  }

  /**
   * Break-glass for one secret: revokes every live allow grant that covers `secretName`,
   * by exact name or glob (blocks stay). Call inside the caller's audited transaction.
   * Returns the revoked grants' ids.
   */
  revokeCovering(secretName: string, now: number): string[] {
    const live = this.db
      .prepare(
        "SELECT id, secret_pattern FROM grants WHERE revoked_at IS NULL AND effect = 'allow' AND (expires_at IS NULL OR expires_at > ?) AND (uses_left IS NULL OR uses_left > 0)",
      )
      .all(now) as { id: string; secret_pattern: string }[];
    const ids = live.filter((g) => globMatch(g.secret_pattern, secretName)).map((g) => g.id);
    for (const id of ids) this.revoke(id, now);
    return ids;
  }

  /** Until-lock grants end when the vault locks. */
  revokeUntilLock(now: number): number {
    return this.db.prepare("UPDATE grants SET revoked_at = ?, row_mac = NULL WHERE scope = 'until_lock' AND revoked_at IS NULL").run(now)
      .changes;
  }

  /**
   * The grant that decides this request, if any: a matching deny wins; else the most
   * specific matching allow (exact name before globs). A grant recorded with an
   * executable hash stops applying when the requester's hash differs. Only grants of the
   * asked channel apply (`proxy` given: proxy grants for that binding and request; else
   * secret grants); a deny applies on every channel. `run`: the command of an `akc run`
   * request (see the header for which grants serve it).
   */
  decide(requester: Requester, secretName: string, now: number, proxy?: ProxyUse, run: RunUse | null = null): Grant | null {
    this.decideStmt ??= this.db.prepare(
      `${SELECT} WHERE g.revoked_at IS NULL AND (g.expires_at IS NULL OR g.expires_at > @now) AND (g.uses_left IS NULL OR g.uses_left > 0)
           AND (g.agent_id = @agentId OR g.fingerprint = @fingerprint)`,
    );
    const rows = this.decideStmt.all({ now, agentId: requester.agent?.id ?? null, fingerprint: requester.fingerprint }) as GrantRow[];
    let allow: GrantRow | null = null;
    const code = requester.identity.injectedCode;
    const injected = code === null || (code !== undefined && code.length > 0);
    for (const row of rows) {
      if (!globMatch(row.secret_pattern, secretName)) continue;
      if (row.exe_sha256 && row.exe_sha256 !== requester.identity.exeSha256) continue;
      // Fail closed: a deny is honoured even when its MAC is missing or wrong.
      if (row.effect === 'deny') return toGrant(row);
      // Injected code (code-check.ts) voids every allow: a human decides this request.
      if (injected) continue;
      if (!channelMatches(row, proxy)) continue;
      if (!commandMatches(row, run)) continue;
      if (checkRow(this.db, GRANTS, row) === 'refused') continue;
      if (!allow || (allow.secret_pattern !== secretName && row.secret_pattern === secretName)) allow = row;
    }
    return allow ? toGrant(allow) : null;
  }

  /**
   * Just before a value is released: re-reads the grant, checks that it (and its agent)
   * is still authentic — decide() may have run while the vault was locked, when nothing
   * could be verified — and uses up one use of a counted grant. Returns false when none
   * was left (raced) or the grant ended (revoked, or its time ran out at `now` while the
   * request waited); throws DENIED when a row failed its integrity check.
   */
  consume(grant: Grant, now: number): boolean {
    this.getStmt ??= this.db.prepare(`${SELECT} WHERE g.id = ?`);
    const row = this.getStmt.get(grant.id) as GrantRow | undefined;
    if (!row || row.revoked_at !== null || row.effect !== 'allow') return false;
    if (row.expires_at !== null && row.expires_at <= now) return false;
    if (checkRow(this.db, GRANTS, row) === 'refused' || (row.agent_id && checkStored(this.db, AGENTS, row.agent_id) === 'refused')) {
      throw new AkcError('DENIED', `denied: grant ${grant.id} failed its integrity check (changed outside Agent Keychain)`);
    }
    if (row.uses_left === null) return true;
    if (row.uses_left <= 0) return false;
    const next = { ...row, uses_left: row.uses_left - 1 };
    this.consumeStmt ??= this.db.prepare('UPDATE grants SET uses_left = ?, row_mac = ? WHERE id = ? AND uses_left = ?');
    return this.consumeStmt.run(next.uses_left, signatureFor(this.db, GRANTS, next), grant.id, row.uses_left).changes > 0;
  }

  /**
   * Whether this program was approved before ("known": with the same code), approved but
   * since changed, or never. A plain executable (or a registered agent) is its executable
   * path, as recorded on every grant. A script under an interpreter, or the akc CLI for
   * another program, is not its interpreter: approving one node script says nothing about
   * another, so only grants made for this program count — by fingerprint (same code) or
   * by its label (same program, other code). Older grants without a label never make a
   * script "known".
   */
  history(r: Pick<Requester, 'identity' | 'fingerprint' | 'agent'>): 'known' | 'changed' | 'new' {
    const exePath = r.identity.exe;
    if (!exePath) return 'new';
    // Full rows: a forged allow must not make a program look "known" in the prompt.
    // Revoked rows carry no MAC and still count as history (revoking is not forging).
    let rows = (this.db.prepare("SELECT * FROM grants WHERE exe_path = ? AND effect = 'allow'").all(exePath) as GrantRow[]).filter(
      (row) => row.revoked_at !== null || checkRow(this.db, GRANTS, row) !== 'refused',
    );
    if (!r.agent && r.identity.script) {
      const label = grantLabel(r);
      rows = rows.filter(
        (row) => row.agent_id === null && (row.fingerprint === r.fingerprint || (label !== null && row.program_label === label)),
      );
      if (rows.length === 0) return 'new';
      return rows.some((row) => row.fingerprint === r.fingerprint) ? 'known' : 'changed';
    }
    if (rows.length === 0) return 'new';
    return rows.some((row) => row.exe_sha256 === r.identity.exeSha256) ? 'known' : 'changed';
  }
}
