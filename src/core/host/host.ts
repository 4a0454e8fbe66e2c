/**
 * The host: one vault served to agents. Composes the vault, secrets, policy (agents,
 * grants, leases), the approval broker, the audit log and the socket server. The
 * headless daemon and the Electron main both run this unchanged; they differ only in
 * the Approver they plug in.
 */
import { EventEmitter } from 'node:events';
import { AkcError, isAkcError } from '../../shared/errors.js';
import type { AuditEntry, AuditFields } from '../audit/chain.js';
import { ApprovalBroker } from '../approvals/broker.js';
import type { ApprovalDecision, ApprovalScope, ApprovalSubject, Approver, PendingApproval } from '../approvals/types.js';
import { silentApprover } from '../approvals/types.js';
import { systemClock, type Clock } from '../clock.js';
import type { PeerIdentity } from '../identity/index.js';
import type { KeychainPort } from '../keychain/port.js';
import { AgentRegistry, type AgentRecord } from '../policy/agents.js';
import { GrantStore, type Grant, type GrantInput } from '../policy/grants.js';
import { DEFAULT_LEASE_MS, LeaseStore, newLeaseId, type Lease } from '../policy/leases.js';
import {
  agentFingerprint,
  akcSubcommand,
  grantLabel,
  programFingerprint,
  programLabel,
  viaProgram,
  type Requester,
} from '../policy/requester.js';
import { acceptCommand, commandAuditDetail, runGrantFields, type ApprovedCommand } from '../policy/run-command.js';
import type { RunCommand } from '../../shared/protocol.js';
import { hashExecutable } from '../identity/exe-hash.js';
import { hashScript, readInjectedCode } from '../identity/code-check.js';
import { readStartTime } from '../identity/process-info.js';
import type { ProcessSummary } from '../identity/index.js';
import {
  SecretStore,
  type SecretInput,
  type SecretMeta,
  type SecretValue,
  type SecretVersionMeta,
  type SetResult,
} from '../vault/secrets.js';
import { Vault, type VaultState } from '../vault/vault.js';
import { Authorizer, type AuthorizeRequest } from './authorize.js';
import { DeliveryWriter } from './delivery-writer.js';
import { WalCheckpointer } from './wal-checkpointer.js';
import { durableTransaction } from '../store/database.js';
import { blockInTransaction, blockRequester, blockTargetOf, unblockRequester, type BlockTarget } from '../policy/block.js';
import { revokeAllLeases } from '../policy/lease-admin.js';
import { verifyAuditNow, type AuditVerifyReport } from '../audit/verify.js';
import { HostLifecycle, type HostLifecycleOptions } from '../lifecycle/host-lifecycle.js';
import type { Alert } from '../lifecycle/alerts.js';
import type { RotateResult } from '../lifecycle/rotation.js';
import type { LifecycleSnapshot } from '../lifecycle/status.js';
import type { RotationScheduler } from '../lifecycle/scheduler.js';

export const HOST_VERSION = '0.1.0';
export const DEFAULT_APPROVAL_TIMEOUT_MS = 60_000;
/** How often the host looks for another process's commit that rolled the audit log back. */
const AUDIT_HEAD_CHECK_MS = 1000;

export interface HostOptions {
  dataDir: string;
  keychain: KeychainPort;
  approver?: Approver;
  clock?: Clock;
  approvalTimeoutMs?: number;
  /** Rotation scheduler and anomaly guard tuning (src/core/lifecycle). */
  lifecycle?: HostLifecycleOptions;
}

/**
 * A decision authorised over the admin channel: the caller (server/admin-handlers.ts)
 * verified the CLI's challenge–response proof; `kek` (the password's KEK, wiped by the
 * caller) unlocks a locked vault.
 */
export interface ProvenAdmin {
  kind: 'admin-proof';
  kek: Buffer | null;
}

/** One agent connection's view: what the kernel said, and the agent hint from `hello`. */
export interface Session {
  identity: PeerIdentity;
  agentHint?: string;
}

export interface DeliveredSecret {
  name: string;
  version: number;
  type: SecretMeta['type'];
  /** Plaintext; the caller zeroes it after sending. */
  value: Buffer;
  lease: { id: string; expiresAt: number };
}

export interface HostEvents {
  state: [VaultState];
  approvals: [PendingApproval[]];
  audit: [AuditEntry[]];
  /** A rotation failed for good, a manual rotation is due, or an anomaly guard rule fired. */
  alert: [Alert];
}

const SCOPE_MS: Partial<Record<ApprovalScope, number>> = { '15m': 15 * 60_000, '1h': 60 * 60_000 };

/**
 * The Host offers verbs, not its stores: its stores, broker and lifecycle are
 * its own, and every caller (desktop service, admin channel, daemon, tests) uses the verbs
 * and read-only views below, so each rule lives in one place.
 */
export class Host extends EventEmitter<HostEvents> {
  /**
   * The open vault, for the core modules that own tables of their own and take a Vault
   * (policy/admin.ts, views, settings, proxy bindings, lifecycle policy). Not for reaching
   * the Host's stores: those are private.
   */
  readonly vault: Vault;
  private readonly secrets: SecretStore;
  private readonly agents: AgentRegistry;
  private readonly grants: GrantStore;
  private readonly leases: LeaseStore;
  private readonly broker: ApprovalBroker;
  readonly clock: Clock;
  private readonly writer: DeliveryWriter;
  /** Moves WAL checkpoints (the fsyncs) off the event loop once the host is busy. */
  private readonly checkpointer: WalCheckpointer;
  /** Expiry, pinning, rotation scheduler and anomaly guard (src/core/lifecycle). */
  private readonly lifecycle: HostLifecycle;
  /** The one authorization path of every request for a value (authorize.ts). */
  private readonly authorizer: Authorizer;
  /** Mirrors vault.state === 'unlocked' (kept by the state listener): vault.state reads the database. */
  private unlocked: boolean;

  private constructor(vault: Vault, opts: HostOptions) {
    super();
    this.vault = vault;
    this.clock = opts.clock ?? systemClock;
    this.secrets = new SecretStore(vault);
    this.agents = new AgentRegistry(vault.db);
    this.grants = new GrantStore(vault.db);
    this.leases = new LeaseStore(vault.db);
    this.broker = new ApprovalBroker({
      clock: this.clock,
      approver: opts.approver ?? silentApprover,
      timeoutMs: opts.approvalTimeoutMs ?? DEFAULT_APPROVAL_TIMEOUT_MS,
    });
    this.checkpointer = new WalCheckpointer(vault.db);
    this.writer = new DeliveryWriter(
      vault.db,
      vault.audit,
      this.leases,
      () => this.clock.now(),
      () => vault.auditKey,
      (entries) => {
        this.checkpointer.committed();
        this.emit('audit', entries);
      },
    );
    this.unlocked = vault.state === 'unlocked';
    vault.onStateChange((state) => (this.unlocked = state === 'unlocked'));
    vault.onStateChange((state) => {
      this.emit('state', state);
      if (state === 'unlocked') this.releaseCoveredRequests();
    });
    // The lifecycle sees the host through a narrow port (no host ⇄ lifecycle import cycle).
    this.lifecycle = new HostLifecycle(
      {
        vault,
        clock: this.clock,
        record: (fields) => this.record(fields),
        appended: (entries) => this.emit('audit', entries),
        alert: (alert) => this.emit('alert', alert),
        lock: (by) => void this.lock(by),
        block: (r, by, why) => void this.block(r, by, why),
        onState: (listener) => void this.on('state', listener),
        onAudit: (listener) => void this.on('audit', listener),
      },
      opts.lifecycle,
    );
    this.authorizer = new Authorizer({
      clock: this.clock,
      broker: this.broker,
      secrets: this.secrets,
      grants: this.grants,
      screen: this.lifecycle,
      writer: this.writer,
      record: (fields) => this.record(fields),
      unlocked: () => this.unlocked,
    });
    // Audit rollback (audit/log.ts): what the log finds is an alert here; and the tail is
    // checked whenever another process committed, not only at this host's next append.
    vault.audit.onAlarm((alert) => this.emit('alert', alert));
    this.auditWatch = setInterval(() => this.checkAuditHead(), AUDIT_HEAD_CHECK_MS);
    this.auditWatch.unref();
  }

  private readonly auditWatch: NodeJS.Timeout;

  private checkAuditHead(): void {
    try {
      const entries = this.vault.audit.checkHead(this.clock.now(), this.vault.auditKey);
      if (entries.length > 0) this.emit('audit', entries);
    } catch {
      // Busy or closing: the next append checks the tail anyway.
    }
  }

  /** Requests that waited only for the unlock (a grant covers them) go ahead once it comes. */
  private releaseCoveredRequests(): void {
    for (const p of this.broker.list()) {
      if (p.coveredByGrant) this.broker.decide(p.id, { allow: true, scope: 'once', block: false, by: 'unlock' });
    }
  }

  /** Opens the vault in `dataDir` (locked). NOT_INITIALIZED when there is none. */
  static open(opts: HostOptions): Host {
    const vault = Vault.open({ dataDir: opts.dataDir, keychain: opts.keychain, ...(opts.clock ? { clock: opts.clock } : {}) });
    if (vault.state === 'uninitialized') {
      vault.close();
      throw new AkcError('NOT_INITIALIZED', `no vault in ${opts.dataDir}`, { hint: 'run `akc init` first' });
    }
    return new Host(vault, opts);
  }

  get state(): VaultState {
    return this.vault.state;
  }

  setApprover(approver: Approver): void {
    const wrapped: Approver = {
      show: (p, q) => {
        approver.show(p, q);
        this.emit('approvals', q.slice());
      },
      ended: (id, o, q) => {
        approver.ended(id, o, q);
        this.emit('approvals', q.slice());
      },
    };
    this.broker.setApprover(wrapped);
  }

  // ---------------------------------------------------------------- lock state

  async unlockWithPassword(password: Buffer, by = 'host'): Promise<void> {
    if (this.vault.state === 'unlocked') return;
    await this.vault.unlockWithPassword(password);
    this.record({ event: 'vault.unlock', decision: 'ok', reason: `password (${by})` });
  }

  async unlockWithKeychain(by = 'host'): Promise<void> {
    if (this.vault.state === 'unlocked') return;
    await this.vault.unlockWithKeychain();
    this.record({ event: 'vault.unlock', decision: 'ok', reason: `keychain (${by})` });
  }

  /**
   * Locks: zeroes keys and ends until-lock grants. With `revokeLeases` (break-glass: `akc
   * lock --revoke-all`, the app's "Lock and revoke"), first revokes every live lease, audited
   * (policy/lease-admin.ts), even when the vault is already locked.
   */
  lock(by = 'host', opts: { revokeLeases?: boolean } = {}): { revokedLeases: number } {
    const revokedLeases = opts.revokeLeases ? revokeAllLeases(this.vault, by) : 0;
    if (this.vault.state === 'unlocked') {
      const ended = this.grants.revokeUntilLock(this.clock.now());
      this.vault.lock(by, ended ? { untilLockGrantsEnded: ended } : null);
    }
    return { revokedLeases };
  }

  /** Blocks a requester, or a registered agent (policy/block.ts: one live block each, audited). */
  block(target: Requester | BlockTarget, by: string, why?: string): { grant: Grant; created: boolean } {
    const r = blockRequester(this.vault, 'kind' in target ? target : blockTargetOf(target), by, why);
    if (r.entries.length > 0) this.emit('audit', r.entries);
    return { grant: r.grant, created: r.created };
  }

  /** Lifts a requester's blocks; returns the revoked block grants (none when it was not blocked). */
  unblock(target: Requester | BlockTarget, by: string): Grant[] {
    const r = unblockRequester(this.vault, 'kind' in target ? target : blockTargetOf(target), by);
    if (r.entries.length > 0) this.emit('audit', r.entries);
    return r.grants;
  }

  // ---------------------------------------------------------------- agent methods

  /** Per connection: its Requester, valid while the agents table is unchanged (AgentRegistry.generation). */
  private readonly requesters = new WeakMap<Session, { generation: string; hint: string | undefined; requester: Requester }>();

  async requesterFor(session: Session): Promise<Requester> {
    const generation = this.agents.generation();
    const hint = session.agentHint;
    const known = this.requesters.get(session);
    if (known && known.generation === generation && known.hint === hint) return known.requester;
    const identity = await codeIdentity(session.identity);
    const inputs = { hashedFile: false };
    let agent = await this.agents.match(identity, session.agentHint, inputs);
    // `akc get` run by a registered agent counts as that agent (see requester.ts).
    const viaSummary = akcSubcommand(identity) !== null ? viaProgram(identity) : null;
    const via = viaSummary ? await viaIdentity(identity, viaSummary) : null;
    if (!agent && via) agent = await this.agents.match(via, session.agentHint);
    const requester: Requester = {
      identity,
      agent: agent ? { id: agent.id, name: agent.name } : null,
      fingerprint: agent ? agentFingerprint(agent.id) : programFingerprint(identity, via),
      label: agent ? agent.name : programLabel(identity),
    };
    // Kept only when it depends on nothing but the agents table and the connection's
    // identity: a rule on a script's hash, or an `akc` peer's program, is checked every time.
    // A script's content is hashed per request (replacing it voids its grants), so a script's requester is never kept.
    if (!via && !inputs.hashedFile && !identity.script) this.requesters.set(session, { generation, hint, requester });
    return requester;
  }

  pendingCount(): number {
    return this.broker.list().length;
  }

  listSecrets(): SecretMeta[] {
    return this.secrets.list();
  }

  // ---------------------------------------------------------------- views and verbs (hosts, admin)

  /** Requests waiting for a human, oldest first. */
  pendingApprovals(): PendingApproval[] {
    return this.broker.list();
  }

  pendingApproval(id: string): PendingApproval | null {
    return this.broker.get(id);
  }

  /** How long a request waits for a human (applies to requests made from now on). */
  get approvalTimeoutMs(): number {
    return this.broker.timeoutMs;
  }

  set approvalTimeoutMs(ms: number) {
    this.broker.timeoutMs = ms;
  }

  /** Ends every pending request with a denial (`reason` is what the requests are told). */
  cancelPending(reason: string): void {
    this.broker.cancelAll(reason);
  }

  findSecret(name: string): SecretMeta | null {
    return this.secrets.find(name);
  }

  /** A secret's metadata; NOT_FOUND when there is none. */
  secretMeta(name: string): SecretMeta {
    return this.secrets.get(name);
  }

  secretVersions(name: string): SecretVersionMeta[] {
    return this.secrets.versions(name);
  }

  /** Stores a value as a new version (SecretStore.set: durable, audited). The caller zeroes `value`. */
  setSecret(name: string, value: Buffer, input?: SecretInput, audit?: Partial<AuditFields>, opts?: { mustCreate?: boolean }): SetResult {
    return this.secrets.set(name, value, input, audit, opts);
  }

  updateSecret(name: string, input: SecretInput, audit?: Partial<AuditFields>): SecretMeta {
    return this.secrets.update(name, input, audit);
  }

  removeSecret(name: string, audit?: Partial<AuditFields>): void {
    this.secrets.remove(name, audit);
  }

  /**
   * A human asks to see (or copy) a value in the host's own UI: the audit entry (`event`,
   * e.g. secret.reveal / secret.copy) is written before the value is returned. The caller
   * zeroes the value.
   */
  revealToHuman(name: string, version: number | undefined, audit: { event: string; reason: string }): SecretValue {
    const revealed = this.secrets.reveal(name, version);
    try {
      this.record({ event: audit.event, secret: name, version: revealed.version, reason: audit.reason });
    } catch (err) {
      revealed.value.fill(0);
      throw err;
    }
    return revealed;
  }

  listAgents(): AgentRecord[] {
    return this.agents.list();
  }

  findAgent(name: string): AgentRecord | null {
    return this.agents.find(name);
  }

  /** Live grants (or every grant, ended ones too), each with its row's integrity verdict. */
  listGrants(opts: { includeEnded?: boolean } = {}): Grant[] {
    return this.grants.list(this.clock.now(), opts);
  }

  grant(id: string): Grant | null {
    return this.grants.get(id);
  }

  lease(id: string): Lease | null {
    return this.leases.get(id);
  }

  /** Every live lease (all requesters). */
  allLeases(): Lease[] {
    return this.leases.list(this.clock.now());
  }

  /** Rotates a secret now (tray, UI, admin); failures are audited and rethrown (lifecycle/rotation.ts). */
  rotate(name: string, opts: { by: string; value?: Buffer }): Promise<RotateResult> {
    return this.lifecycle.rotate(name, opts);
  }

  /**
   * The rotation scheduler's state, and one pass of it now (`tick`: a "check now", or a test
   * on a fake clock); null when the host runs without one.
   */
  get scheduler(): Pick<RotationScheduler, 'isStarted' | 'retryState' | 'tick'> | null {
    return this.lifecycle.scheduler;
  }

  lifecycleSnapshot(): LifecycleSnapshot {
    return this.lifecycle.snapshot();
  }

  /** Whether the OS keychain can unlock this vault, and what the keychain is called ("the GNOME keyring"). */
  get keychainUnlock(): { enabled: boolean; description: string } {
    return { enabled: this.vault.keychainUnlockEnabled, description: this.vault.keychain.description };
  }

  /** Turns keychain unlock on or off (needs the master password; audited by the vault). */
  setKeychainUnlock(enabled: boolean, password: Buffer): Promise<void> {
    return this.vault.setKeychainUnlock(enabled, password);
  }

  /** Checks the master password (WRONG_PASSWORD), e.g. before a sensitive change in the UI. */
  verifyPassword(password: Buffer): Promise<void> {
    return this.vault.verifyPassword(password);
  }

  listLeases(requester: Requester): Lease[] {
    return this.leases.list(this.clock.now(), requester.agent ? { agentId: requester.agent.id } : { fingerprint: requester.fingerprint });
  }

  /** An agent revokes one of its own leases. */
  revokeOwnLease(requester: Requester, id: string): boolean {
    const lease = this.leases.get(id);
    const mine = lease && (requester.agent ? lease.agentId === requester.agent.id : lease.fingerprint === requester.fingerprint);
    if (!lease || !mine) throw new AkcError('NOT_FOUND', `no lease ${id}`);
    const revoked = this.leases.revoke(id, this.clock.now());
    if (revoked)
      this.record({ ...this.who(requester), event: 'lease.revoke', secret: lease.secretName, version: lease.version, reason: id });
    return revoked;
  }

  /**
   * An agent asks for a secret. Authorized by the one path (authorize.ts: policy, a human
   * when no grant covers it or the vault is locked); audited before the value is released.
   */
  async getSecret(
    requester: Requester,
    params: { name: string; purpose?: string; version?: number },
    onPending: (p: PendingApproval) => void,
    /** Aborts when the client goes away: its pending approval is withdrawn. */
    signal?: AbortSignal,
  ): Promise<DeliveredSecret> {
    const purpose = params.purpose ?? null;
    const auth = await this.authorizer.authorize({
      requester,
      names: [params.name],
      purpose,
      version: params.version,
      denyEvent: 'secret.deny',
      onPending,
      signal,
    });
    // Without a wait for a human, the metadata was read in this same tick: reveal reuses it.
    return this.deliver(requester, auth.metas[0]!, params.version, purpose, auth.grants[0] ?? null, auth.fresh);
  }

  /**
   * An agent asks for several secrets at once (`secret.getMany`, used by `akc run` and
   * `akc inject`): ONE approval covers every name no grant covers (or all of them while
   * the vault is locked); a refusal, a timeout or a missing name fails the whole call.
   * Each value is delivered with its own lease and `secret.deliver` audit entry.
   */
  async getSecrets(
    requester: Requester,
    params: { names: string[]; purpose?: string; command?: RunCommand },
    onPending: (p: PendingApproval) => void,
    signal?: AbortSignal,
  ): Promise<DeliveredSecret[]> {
    const purpose = params.purpose ?? null;
    const names = [...new Set(params.names)];
    const request: AuthorizeRequest = { requester, names, purpose, denyEvent: 'secret.deny', onPending, signal };
    // `akc run` names the command that will hold the values (run-command.ts): accepted from
    // akc's own run/mcp processes only, shown in the approval, and grants are bound to it.
    let command: ApprovedCommand | null;
    try {
      command = acceptCommand(requester.identity, params.command);
    } catch (err) {
      return this.authorizer.refuse(request, 'refused a command claim from a program that is not akc run', err as AkcError);
    }
    if (command) {
      request.command = command;
      request.detail = commandAuditDetail(command);
    }
    const auth = await this.authorizer.authorize(request);
    // Queued together, the deliveries share one audit/lease transaction (DeliveryWriter).
    const settled = await Promise.allSettled(
      auth.metas.map((m, i) => this.deliver(requester, m, undefined, purpose, auth.grants[i] ?? null, false, command)),
    );
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      for (const r of settled) if (r.status === 'fulfilled') r.value.value.fill(0);
      throw failed.reason;
    }
    return settled.map((r) => (r as PromiseFulfilledResult<DeliveredSecret>).value);
  }

  /**
   * The brokering proxy asks to use a secret for ONE outbound HTTP request on behalf of
   * `requester` (src/core/proxy). Authorized by the same path as `getSecret`, with grants of
   * the proxy channel (per binding and call); the prompt shows the request's method, host
   * and path, and the value never leaves the host: it is returned to the proxy (which
   * zeroes it) instead of to the agent, so there is no lease. Refusals are audited as
   * `proxy.deny` (with `detail` plus method/host/path); the proxy audits the request
   * itself (`proxy.request`, with status, bytes and latency) once it has completed.
   */
  async authorizeProxy(
    requester: Requester,
    params: {
      secret: string;
      http: { method: string; host: string; path: string };
      purpose?: string | null;
      detail?: Record<string, unknown>;
    },
    onPending: (p: PendingApproval) => void,
    signal?: AbortSignal,
  ): Promise<{ value: Buffer; version: number; grantId: string | null }> {
    // Proxy grants are per binding (channel 'proxy'): they never serve secret.get.
    const binding = typeof params.detail?.binding === 'string' ? params.detail.binding : '';
    const http = { method: params.http.method, host: params.http.host, path: params.http.path, binding };
    const auth = await this.authorizer.authorize({
      requester,
      names: [params.secret],
      purpose: params.purpose ?? null,
      proxy: { use: { binding, method: http.method, path: http.path }, http },
      denyEvent: 'proxy.deny',
      detail: { ...params.detail, ...http },
      onPending,
      signal,
    });
    const meta = auth.metas[0]!;
    const revealed = auth.fresh ? this.secrets.revealMeta(meta) : this.secrets.reveal(meta.name);
    return { value: revealed.value, version: revealed.version, grantId: auth.grants[0]?.id ?? null };
  }

  private who(r: Requester): Pick<AuditFields, 'agent' | 'pid' | 'exe'> {
    return { agent: r.label, pid: r.identity.pid, exe: r.identity.exe };
  }

  private async deliver(
    requester: Requester,
    meta: SecretMeta,
    version: number | undefined,
    purpose: string | null,
    grant: Grant | null,
    metaIsCurrent = false,
    command: ApprovedCommand | null = null,
  ): Promise<DeliveredSecret> {
    const revealed = metaIsCurrent ? this.secrets.revealMeta(meta, version) : this.secrets.reveal(meta.name, version);
    const now = this.clock.now();
    const expiresAt = Math.min(now + DEFAULT_LEASE_MS, grant?.expiresAt ?? Infinity);
    const leaseId = newLeaseId();
    try {
      await this.writer.write(
        [
          {
            ...this.who(requester),
            event: 'secret.deliver',
            secret: meta.name,
            version: revealed.version,
            decision: 'allow',
            purpose,
            reason: grant ? `grant ${grant.id}` : 'approved',
            // Which command holds the value (akc run): the command line, never the environment.
            detail: { lease: leaseId, ...(command ? commandAuditDetail(command) : {}) },
          },
        ],
        {
          id: leaseId,
          agentId: requester.agent?.id ?? null,
          fingerprint: requester.fingerprint,
          pid: requester.identity.pid,
          secretId: meta.id,
          secretName: meta.name,
          version: revealed.version,
          issuedAt: now,
          expiresAt,
        },
      );
    } catch (err) {
      revealed.value.fill(0);
      throw new AkcError('INTERNAL', 'failed to record the delivery in the audit log', { cause: err });
    }
    return { name: meta.name, version: revealed.version, type: meta.type, value: revealed.value, lease: { id: leaseId, expiresAt } };
  }

  // ---------------------------------------------------------------- human decisions

  /**
   * A human decides a pending request. Allowing a request that needs an unlock, or
   * allowing "always", needs the master password (`password`), checked here.
   */
  async decide(approvalId: string, decision: ApprovalDecision, password?: Buffer | ProvenAdmin): Promise<PendingApproval> {
    const pending = this.broker.get(approvalId);
    if (!pending) throw this.broker.notPending(approvalId);
    if (decision.allow && (decision.scope === 'always' || pending.needsUnlock || this.vault.state !== 'unlocked')) {
      if (!password) throw new AkcError('WRONG_PASSWORD', 'this decision needs the master password');
      if (!Buffer.isBuffer(password)) {
        // A verified admin proof (server/admin-handlers.ts); a locked vault needs its KEK too.
        if (this.vault.state !== 'unlocked') {
          if (!password.kek) throw new AkcError('LOCKED', 'the vault is locked', { hint: 'unlock it first (`akc unlock`)' });
          this.vault.unlockWithKek(password.kek);
          this.record({ event: 'vault.unlock', decision: 'ok', reason: `password (${decision.by})` });
        }
      } else if (this.vault.state !== 'unlocked') await this.unlockWithPassword(password, decision.by);
      else await this.vault.verifyPassword(password);
      // The unlock itself releases requests a grant already covers: nothing is left to decide.
      if (!this.broker.get(approvalId)) return pending;
    }
    const r = pending.requester;
    const now = this.clock.now();
    const created: Grant[] = [];
    durableTransaction(this.vault.db, () => {
      if (decision.allow && !pending.coveredByGrant) {
        for (const secret of pending.secrets) {
          const command = pending.command ?? null;
          created.push(this.grants.create(this.grantFromDecision(r, secret, decision.scope, decision.by, now, pending.http, command), now));
        }
      }
      this.vault.auditInTransaction([
        {
          ...this.who(r),
          event: 'approval.decide',
          secret: pending.secrets.join(','),
          decision: decision.allow ? 'allow' : decision.block ? 'block' : 'deny',
          purpose: pending.purpose,
          reason: `${decision.allow ? decision.scope : 'deny'} by ${decision.by}`,
          detail: { approval: approvalId, count: pending.count, ...(pending.command ? commandAuditDetail(pending.command) : {}) },
        },
      ]);
      // "Deny & block": the one block rule (policy/block.ts), in the decision's transaction.
      if (!decision.allow && decision.block) blockInTransaction(this.vault, blockTargetOf(r), decision.by);
    });
    // The waiting requests get the grants in their outcome (authorize.ts), nothing else does.
    this.broker.decide(approvalId, decision, created);
    return pending;
  }

  private grantFromDecision(
    r: Requester,
    secret: string,
    scope: ApprovalScope,
    by: string,
    now: number,
    http: ApprovalSubject['http'] = null,
    command: ApprovedCommand | null = null,
  ): GrantInput {
    const ms = SCOPE_MS[scope];
    // An approved proxy call makes a proxy-channel grant for its binding: "once" covers
    // exactly that method and path, longer scopes whatever the binding itself allows.
    const proxy: Partial<GrantInput> = http
      ? {
          channel: 'proxy',
          proxyBinding: http.binding ?? '',
          proxyRule: scope === 'once' ? `${http.method.toUpperCase()} ${http.path}` : '* /**',
        }
      : {};
    return {
      ...proxy,
      agentId: r.agent?.id ?? null,
      fingerprint: r.agent ? null : r.fingerprint,
      exePath: r.identity.exe,
      exeSha256: r.identity.exeSha256,
      secretPattern: secret,
      effect: 'allow',
      scope: scope === 'once' ? 'once' : ms ? 'duration' : scope === 'until_lock' ? 'until_lock' : 'always',
      expiresAt: ms ? now + ms : null,
      // "Once" is a grant with one use, so the approval is on record for known/new badges.
      usesLeft: scope === 'once' ? 1 : null,
      // Approved for one `akc run` command: the grant covers that command only (grants.ts).
      ...(command && !http ? runGrantFields(command) : {}),
      // Who it was approved for, as `akc grants` shows it (null for an agent).
      label: grantLabel(r),
      createdBy: by,
    };
  }

  // ---------------------------------------------------------------- audit

  /** Appends an entry now (best effort for informational events; throws if the log fails). */
  record(fields: AuditFields): void {
    const entry = this.vault.audit.append(fields, this.clock.now(), this.vault.auditKey);
    this.emit('audit', [entry]);
  }

  /** The live log judged as `akc audit verify` judges it (audit/verify.ts): chain, checkpoints, anchor, alarms. */
  verifyAudit(): AuditVerifyReport {
    return verifyAuditNow(this.vault, this.vault.auditKey);
  }

  close(): void {
    this.broker.cancelAll('the host is shutting down');
    try {
      this.lock('host stopped');
    } catch (err) {
      if (!isAkcError(err)) throw err;
    }
    clearInterval(this.auditWatch);
    this.checkpointer.close();
    this.vault.close();
  }
}

/** The identity of the program an akc CLI peer runs for, for agent matching (hash included). */
async function viaIdentity(peer: PeerIdentity, via: ProcessSummary): Promise<PeerIdentity> {
  const exeSha256 = via.exe ? await hashExecutable(via.exe).catch(() => null) : null;
  // The launching program's own environment and flags count too (an unread one is null: no match).
  const injectedCode = via.injectedCode === undefined ? readInjectedCode(via) : via.injectedCode;
  return { ...peer, ...via, uid: peer.uid, exeSha256, scriptSha256: await hashScript(via.script), injectedCode, parents: [] };
}

/**
 * The peer as policy sees it for this request: refused when it could not be identified
 * (every such peer would otherwise share one fingerprint), its script's content hashed now,
 * and its injected code read if nobody has (identities made outside identifyPeer).
 */
async function codeIdentity(identity: PeerIdentity): Promise<PeerIdentity> {
  let injectedCode = identity.injectedCode;
  let unidentified = identity.pidCheck === 'vanished' ? 'it exited before it could be identified' : (identity.unidentified ?? null);
  if (unidentified === null && injectedCode === undefined) {
    const before = readStartTime(identity.pid);
    injectedCode = readInjectedCode(identity);
    if (before === null || readStartTime(identity.pid) !== before) unidentified = 'it exited before it could be identified';
  }
  if (unidentified === null && injectedCode === null) unidentified = 'its environment could not be read';
  if (unidentified === null && identity.exe === null && process.platform === 'linux') unidentified = 'its executable could not be read';
  if (unidentified !== null) {
    throw new AkcError('DENIED', `denied: the calling process (pid ${identity.pid}) could not be identified: ${unidentified}`);
  }
  return { ...identity, injectedCode, scriptSha256: await hashScript(identity.script) };
}
