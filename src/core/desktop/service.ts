/**
 * The desktop service: every verb of the main⇄renderer contract (src/shared/contract.ts)
 * against a real Host, plus the contract's events. Plain Node (never electron): the
 * Electron main exposes it over IPC, the test bridge over a Playwright binding, and both
 * go through `dispatch`, so validation and error mapping are identical.
 *
 * Before a vault exists the service has no host; `setupVault` creates the vault, opens the
 * host and starts the agent socket. If another host (a daemon) already serves the socket,
 * the service opens nothing and reports `hostConflict` so the UI can offer to quit.
 */
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import {
  isVerb,
  parseVerbInput,
  type AgentView,
  type AppState,
  type EventName,
  type EventPayloads,
  type GrantView,
  type SecretDetail,
  type SecretRow,
  type Settings,
  type Verb,
  type VerbInput,
  type VerbOutput,
} from '../../shared/contract.js';
import { AkcError, isAkcError } from '../../shared/errors.js';
import type { PendingApproval } from '../approvals/types.js';
import { systemClock, type Clock } from '../clock.js';
import { HOST_VERSION, type Host } from '../host/host.js';
import { hashExecutable } from '../identity/exe-hash.js';
import type { KeychainPort } from '../keychain/port.js';
import { silentLogger, type Logger } from '../logger.js';
import { grantState, isBlock, PolicyAdmin } from '../policy/admin.js';
import { globMatch } from '../policy/glob.js';
import { programFingerprint } from '../policy/requester.js';
import type { RunningProxy } from '../proxy/index.js';
import { startHostRuntime, type HostRuntime } from '../host/runtime.js';
import { socketIsLive } from '../server/socket-file.js';
import { vaultPath } from '../store/database.js';
import { Vault } from '../vault/vault.js';
import { ActivityReader } from './activity.js';
import { proxyBindingsView, removeProxyBinding, saveProxyBinding } from './proxy-bindings.js';
import { toContractError, type Envelope } from './errors.js';
import { noClipboard, noSaveDialog, type ClipboardPort, type SaveDialogPort } from './ports.js';
import { readSettings, writeSettings, type StoredSettings } from './settings.js';
import { agentView, approvalView, grantView, verifyView } from './views.js';
import { sanitizeLine } from '../../shared/sanitize.js';
import { clearAlertFromUi, lifecycleView, rotateFromUi, setGuardFromUi, type LifecycleView } from '../lifecycle/desktop.js';
import type { RotateResult } from '../lifecycle/rotation.js';

/** Who UI actions are attributed to in the audit log. */
const BY = 'ui';
export const CLIPBOARD_CLEAR_MS = 30_000;
const REQUESTER_MEMORY = 512;

export interface DesktopServiceOptions {
  dataDir: string;
  socketPath: string;
  keychain: KeychainPort;
  clipboard?: ClipboardPort;
  saveDialog?: SaveDialogPort;
  logger?: Logger;
  clock?: Clock;
  /** Called (after the reply) when the renderer asks to quit. */
  onQuit?: () => void;
  clipboardClearMs?: number;
  /** How often to look for audit rows written by other processes (e.g. `akc`); 0 = never. */
  activityPollMs?: number;
  /** Shown in AppState.platform; defaults to process.platform. */
  platform?: string;
}

export type DesktopEvents = { [E in EventName]: [EventPayloads[E]] };

/** What the tray needs (secret names only while unlocked). */
export interface TraySnapshot {
  vault: AppState['vault'];
  hostConflict: boolean;
  approvals: { id: string; program: string; secrets: string[]; count: number }[];
  secrets: string[];
}

/** What the service remembers about a requester it saw, to act on its log entries later. */
interface KnownRequester {
  label: string;
  agent: string | null;
  fingerprint: string;
  exe: string | null;
  exeSha256: string | null;
  script: string | null;
}

type Handlers = { [V in Verb]: (input: VerbInput<V>) => Promise<VerbOutput<V>> | VerbOutput<V> };

export class DesktopService extends EventEmitter<DesktopEvents> {
  private host: Host | null = null;
  /** Host, agent socket and proxy, composed as `akc daemon` composes them (core/host/runtime.ts). */
  private runtime: HostRuntime | null = null;
  private proxy: RunningProxy | null = null;
  private activity: ActivityReader | null = null;
  private conflict: string | null = null;
  private lastSeq = 0;
  private pollTimer: NodeJS.Timeout | null = null;
  private clip: { sha256: string; timer: NodeJS.Timeout } | null = null;
  private settingsCache: StoredSettings;
  private closed = false;
  private busySetup = false;
  /** approval id → requester, and "label\0exe" → requester, most recent last. */
  private readonly byApproval = new Map<string, KnownRequester>();
  private readonly byLabel = new Map<string, KnownRequester>();
  private readonly byFingerprint = new Map<string, KnownRequester>();

  readonly dataDir: string;
  readonly socketPath: string;
  private readonly keychain: KeychainPort;
  private readonly clipboard: ClipboardPort;
  private readonly saveDialog: SaveDialogPort;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly clipboardClearMs: number;

  constructor(private readonly opts: DesktopServiceOptions) {
    super();
    this.dataDir = opts.dataDir;
    this.socketPath = opts.socketPath;
    this.keychain = opts.keychain;
    this.clipboard = opts.clipboard ?? noClipboard;
    this.saveDialog = opts.saveDialog ?? noSaveDialog;
    this.logger = opts.logger ?? silentLogger;
    this.clock = opts.clock ?? systemClock;
    this.clipboardClearMs = opts.clipboardClearMs ?? CLIPBOARD_CLEAR_MS;
    this.settingsCache = readSettings(null);
  }

  // ------------------------------------------------------------------ lifecycle

  /**
   * Starts: detects another host on the socket, opens the vault if there is one, serves
   * the socket, and (with `unlockWithKeychain`) tries the OS keychain once.
   */
  async start(opts: { unlockWithKeychain?: boolean } = {}): Promise<void> {
    if (await socketIsLive(this.socketPath)) {
      this.setConflict();
      return;
    }
    if (fs.existsSync(vaultPath(this.dataDir))) {
      try {
        await this.openHost();
      } catch (err) {
        if (!isAkcError(err, 'NOT_INITIALIZED')) throw err;
      }
    }
    if (opts.unlockWithKeychain && this.host?.keychainUnlock.enabled) {
      try {
        await this.host.unlockWithKeychain('app start');
      } catch (err) {
        if (!isAkcError(err)) throw err;
        this.logger.warn(`keychain unlock at start failed: ${err.message}`);
      }
    }
    const poll = this.opts.activityPollMs ?? 2000;
    if (poll > 0) {
      this.pollTimer = setInterval(() => this.pump(), poll);
      this.pollTimer.unref();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.pollTimer) clearInterval(this.pollTimer);
    await this.clearClipboardIfOurs();
    const runtime = this.runtime;
    this.runtime = null;
    this.host = null;
    this.activity = null;
    this.proxy = null;
    await runtime?.close();
    this.removeAllListeners();
  }

  /** The running host, if any (for the Electron main's own use, never the renderer). */
  get currentHost(): Host | null {
    return this.host;
  }

  get settings(): Settings {
    return { ...this.settingsCache, keychainUnlock: this.host?.keychainUnlock.enabled ?? false };
  }

  get hostConflict(): string | null {
    return this.conflict;
  }

  private setConflict(): void {
    this.conflict =
      `Another Agent Keychain host is already serving ${this.socketPath} (probably \`akc daemon\`). ` +
      'Only one host can run at a time: stop the other one and restart the app, or quit.';
    this.emit('stateChanged', this.appState());
  }

  private async openHost(): Promise<void> {
    let runtime: HostRuntime;
    try {
      runtime = await startHostRuntime({
        dataDir: this.dataDir,
        socketPath: this.socketPath,
        keychain: this.keychain,
        clock: this.clock,
        logger: this.logger,
        // The stored settings apply before the first request is served.
        configure: (h) => {
          this.settingsCache = readSettings(h.vault.db);
          h.approvalTimeoutMs = this.settingsCache.approvalTimeoutSeconds * 1000;
        },
      });
    } catch (err) {
      if (isAkcError(err, 'HOST_RUNNING')) {
        this.setConflict();
        return;
      }
      throw err;
    }
    const host = runtime.host;
    this.runtime = runtime;
    this.host = host;
    // The brokering proxy runs in whichever host serves the vault (app or daemon).
    this.proxy = runtime.proxy;
    this.activity = new ActivityReader(host.vault.db);
    this.lastSeq = this.activity.headSeq();
    host.on('state', (state) => {
      if (state !== 'unlocked') void this.clearClipboardIfOurs();
      this.pump();
      this.emit('stateChanged', this.appState());
      this.emit('approvalsChanged', this.approvalViews());
    });
    host.on('approvals', (list) => {
      for (const p of list) this.remember(p);
      this.emit('approvalsChanged', this.approvalViews());
      this.emit('stateChanged', this.appState());
    });
    host.on('audit', () => this.pump());
    // Rotation failures, due manual rotations and guard firings change the secrets' badges.
    host.on('alert', () => this.emit('secretsChanged', {}));
    // The wrapper in Host.setApprover emits 'approvals'; the popup lives in the Electron main.
    host.setApprover({ show() {}, ended() {} });
    this.emit('stateChanged', this.appState());
  }

  // ------------------------------------------------------------------ dispatch

  /**
   * Validates `rawInput` against the verb's schema and runs it. Throws a ContractError
   * (`{ code, message, hint? }`), never an Error, a stack or a value.
   */
  async dispatch<V extends Verb>(verb: V, rawInput: unknown): Promise<VerbOutput<V>> {
    try {
      if (typeof verb !== 'string' || !isVerb(verb)) throw new AkcError('INVALID_ARGUMENT', 'unknown verb');
      if (this.closed) throw new AkcError('INTERNAL', 'the app is shutting down');
      const input = parseVerbInput(verb, rawInput);
      const handler = this.handlers[verb] as (i: VerbInput<V>) => Promise<VerbOutput<V>> | VerbOutput<V>;
      const result = await handler(input);
      this.pump();
      return result;
    } catch (err) {
      throw toContractError(err, this.logger, typeof verb === 'string' ? verb : undefined);
    }
  }

  /** `dispatch` with the error inside the value (what IPC and the bridge carry). */
  async dispatchEnvelope<V extends Verb>(verb: V, rawInput: unknown): Promise<Envelope<VerbOutput<V>>> {
    try {
      return { ok: true, value: await this.dispatch(verb, rawInput) };
    } catch (err) {
      return { ok: false, error: toContractError(err, this.logger) };
    }
  }

  private readonly handlers: Handlers = {
    getAppState: () => this.appState(),
    setupVault: (i) => this.setupVault(i),
    unlock: (i) => this.unlock(i),
    unlockWithKeychain: () => this.unlockWithKeychain(),
    lock: (i) => this.lock(i),
    listSecrets: () => this.listSecrets(),
    getSecretDetail: (i) => this.getSecretDetail(i),
    saveSecret: (i) => this.saveSecret(i),
    deleteSecret: (i) => this.deleteSecret(i),
    revealSecret: (i) => this.revealSecret(i),
    copySecret: (i) => this.copySecret(i),
    listAgents: () => this.listAgents(),
    registerAgent: (i) => this.registerAgent(i),
    revokeAgent: (i) => this.revokeAgent(i),
    listGrants: () => this.listGrants(),
    revokeGrant: (i) => this.revokeGrant(i),
    blockRequester: (i) => this.blockRequester(i),
    registerAgentFromActivity: (i) => this.registerAgentFromActivity(i),
    queryActivity: (i) => this.unlockedActivity().page(i),
    verifyActivity: () => this.verifyActivity(),
    exportActivity: () => this.exportActivity(),
    listApprovals: () => {
      this.requireHost();
      return this.approvalViews();
    },
    decideApproval: (i) => this.decideApproval(i),
    getSettings: () => this.settings,
    updateSettings: (i) => this.updateSettings(i),
    setKeychainUnlock: (i) => this.setKeychainUnlock(i),
    quitApp: () => {
      setImmediate(() => this.opts.onQuit?.());
      return {};
    },
    getLifecycle: () => this.lifecycle(),
    rotateSecret: async (i) => {
      const r = await this.rotateSecret(i.name, i.value);
      return r.kind === 'rotated' ? { kind: 'rotated', name: r.name, version: r.version } : r;
    },
    clearAlert: (i) => ({ cleared: this.clearAlert(i.all ? { all: true } : { id: i.id ?? 0 }) }),
    setGuardSetting: async (i) => {
      await this.setGuardSetting(i.key, i.value, i.password);
      return { key: i.key };
    },
    // Proxy bindings: the functions `akc proxy add|list|rm` calls (proxy-bindings.ts).
    listProxyBindings: () => proxyBindingsView(this.requireUnlocked().vault, this.socketPath, this.proxy),
    saveProxyBinding: (i) => saveProxyBinding(this.requireUnlocked().vault, this.socketPath, this.proxy, i, BY),
    removeProxyBinding: (i) => removeProxyBinding(this.requireUnlocked().vault, i.name, BY),
  };

  // ------------------------------------------------------------------ state

  appState(): AppState {
    const host = this.host;
    let vault: AppState['vault'] = host ? host.state : 'uninitialized';
    if (!host && this.conflict && fs.existsSync(vaultPath(this.dataDir))) vault = 'locked';
    return {
      vault,
      keychainUnlock: host?.keychainUnlock.enabled ?? false,
      keychainName: this.keychain.description,
      platform: this.opts.platform ?? process.platform,
      hostConflict: this.conflict,
      socketPath: this.socketPath,
      dataDir: this.dataDir,
      pendingApprovals: host?.pendingCount() ?? 0,
      version: HOST_VERSION,
    };
  }

  /** For the tray; never throws. */
  traySnapshot(): TraySnapshot {
    const host = this.host;
    const state = this.appState();
    let secrets: string[] = [];
    if (host && host.state === 'unlocked') {
      try {
        secrets = host.listSecrets().map((s) => s.name);
      } catch {
        secrets = [];
      }
    }
    return {
      vault: state.vault,
      hostConflict: this.conflict !== null,
      // Tray menu labels are native text: the same sanitizing as the views (program names are the agent's choice).
      approvals: (host?.pendingApprovals() ?? []).map((p) => ({
        id: p.id,
        program: sanitizeLine(p.requester.label, 80),
        secrets: p.secrets.map((n) => sanitizeLine(n)),
        count: p.count,
      })),
      secrets,
    };
  }

  private requireHost(): Host {
    if (this.conflict) {
      throw new AkcError('HOST_RUNNING', 'another Agent Keychain host is serving the socket', {
        hint: 'stop `akc daemon` (or the other app) and restart Agent Keychain',
      });
    }
    if (!this.host) throw new AkcError('NOT_INITIALIZED', 'no vault has been created yet', { hint: 'create one first' });
    return this.host;
  }

  private requireUnlocked(): Host {
    const host = this.requireHost();
    if (host.state !== 'unlocked') throw new AkcError('LOCKED', 'the vault is locked', { hint: 'unlock it first' });
    return host;
  }

  private unlockedActivity(): ActivityReader {
    this.requireUnlocked();
    return this.activity!;
  }

  // ------------------------------------------------------------------ vault

  private async setupVault(i: VerbInput<'setupVault'>): Promise<AppState> {
    if (this.conflict) this.requireHost();
    if (this.host || this.busySetup) {
      throw new AkcError('ALREADY_INITIALIZED', `a vault already exists in ${this.dataDir}`);
    }
    this.busySetup = true;
    const password = Buffer.from(i.password, 'utf8');
    try {
      const vault = Vault.open({ dataDir: this.dataDir, keychain: this.keychain, clock: this.clock });
      try {
        await vault.init(password, { keychain: i.keychain });
      } finally {
        vault.close();
      }
      await this.openHost();
      const host = this.requireHost();
      if (i.keychain) await host.unlockWithKeychain('setup');
      else await host.unlockWithPassword(password, 'setup');
      return this.appState();
    } finally {
      password.fill(0);
      this.busySetup = false;
    }
  }

  private async unlock(i: VerbInput<'unlock'>): Promise<AppState> {
    const host = this.requireHost();
    const password = Buffer.from(i.password, 'utf8');
    try {
      await host.unlockWithPassword(password, BY);
    } finally {
      password.fill(0);
    }
    return this.appState();
  }

  private async unlockWithKeychain(): Promise<AppState> {
    await this.requireHost().unlockWithKeychain(BY);
    return this.appState();
  }

  private lock(i: VerbInput<'lock'>): AppState {
    // The same lock as `akc lock [--revoke-all]` (Host.lock): the same entries.
    this.requireHost().lock(BY, { revokeLeases: i.revokeAll === true });
    return this.appState();
  }

  /** Locks on behalf of the system (auto-lock: idle, screen lock, sleep). */
  lockFor(reason: string): void {
    if (this.host?.state === 'unlocked') this.host.lock(`auto-lock: ${reason}`);
  }

  // ------------------------------------------------------------------ secrets

  private listSecrets(): SecretRow[] {
    const host = this.requireUnlocked();
    return host.listSecrets().map((m) => {
      const usage = this.activity!.usageOf(m.name);
      return {
        name: m.name,
        type: m.type,
        description: m.description,
        owner: m.owner,
        tags: m.tags,
        currentVersion: m.currentVersion,
        createdAt: m.createdAt,
        updatedAt: m.updatedAt,
        lastUsedAt: usage.lastUsedAt,
        usedBy: usage.usedBy,
      };
    });
  }

  private getSecretDetail(i: VerbInput<'getSecretDetail'>): SecretDetail {
    const host = this.requireUnlocked();
    const m = host.secretMeta(i.name);
    const usage = this.activity!.usageOf(m.name);
    const grants = host
      .listGrants()
      .filter((g) => !isBlock(g) && globMatch(g.secretPattern, m.name))
      .map((g) => grantView(g, (fp) => this.labelFor(fp)));
    return {
      name: m.name,
      type: m.type,
      description: m.description,
      owner: m.owner,
      tags: m.tags,
      currentVersion: m.currentVersion,
      createdAt: m.createdAt,
      updatedAt: m.updatedAt,
      lastUsedAt: usage.lastUsedAt,
      usedBy: usage.usedBy,
      versions: host.secretVersions(m.name).map((v) => ({ version: v.version, state: v.state, createdAt: v.createdAt })),
      grants,
    };
  }

  private saveSecret(i: VerbInput<'saveSecret'>): { name: string; version: number } {
    const host = this.requireUnlocked();
    const meta = {
      type: i.type,
      description: i.description,
      ...(i.owner !== undefined ? { owner: i.owner } : {}),
      ...(i.tags !== undefined ? { tags: i.tags } : {}),
    };
    let version: number;
    if (i.value !== undefined) {
      const value = Buffer.from(i.value, 'utf8');
      try {
        version = host.setSecret(i.name, value, meta, { reason: `by ${BY}` }).version;
      } finally {
        value.fill(0);
      }
    } else {
      if (!host.findSecret(i.name)) {
        throw new AkcError('INVALID_ARGUMENT', `secret ${i.name} does not exist yet: a new secret needs a value`);
      }
      version = host.updateSecret(i.name, meta, { reason: `metadata by ${BY}` }).currentVersion;
    }
    this.emit('secretsChanged', {});
    return { name: i.name, version };
  }

  private deleteSecret(i: VerbInput<'deleteSecret'>): { name: string } {
    const host = this.requireUnlocked();
    host.removeSecret(i.name, { reason: `by ${BY}` });
    this.emit('secretsChanged', {});
    return { name: i.name };
  }

  private revealSecret(i: VerbInput<'revealSecret'>): { name: string; version: number; value: string } {
    const host = this.requireUnlocked();
    // Audited before the value leaves the host (Host.revealToHuman).
    const revealed = host.revealToHuman(i.name, i.version, { event: 'secret.reveal', reason: `shown in the app by ${BY}` });
    try {
      return { name: i.name, version: revealed.version, value: revealed.value.toString('utf8') };
    } finally {
      revealed.value.fill(0);
    }
  }

  private async copySecret(i: VerbInput<'copySecret'>): Promise<{ name: string; clearsInSeconds: number }> {
    const host = this.requireUnlocked();
    // Audited before the value leaves the host (Host.revealToHuman), as every release is.
    const revealed = host.revealToHuman(i.name, i.version, { event: 'secret.copy', reason: `copied to the clipboard by ${BY}` });
    try {
      const text = revealed.value.toString('utf8');
      try {
        await this.clipboard.writeText(text);
      } catch {
        throw new AkcError('INTERNAL', 'failed to copy: no clipboard is available');
      }
      this.armClipboardClear(sha256(text));
    } finally {
      revealed.value.fill(0);
    }
    return { name: i.name, clearsInSeconds: Math.round(this.clipboardClearMs / 1000) };
  }

  private armClipboardClear(digest: string): void {
    if (this.clip) clearTimeout(this.clip.timer);
    const timer = setTimeout(() => void this.clearClipboardIfOurs(), this.clipboardClearMs);
    timer.unref();
    this.clip = { sha256: digest, timer };
  }

  /** Clears the clipboard only if it still holds the value we put there. */
  private async clearClipboardIfOurs(): Promise<void> {
    const clip = this.clip;
    if (!clip) return;
    clearTimeout(clip.timer);
    this.clip = null;
    try {
      if (sha256(await this.clipboard.readText()) === clip.sha256) await this.clipboard.clear();
    } catch {
      // no clipboard any more: nothing to clear
    }
  }

  // ------------------------------------------------------------------ secret lifecycle (src/core/lifecycle/desktop.ts)

  /** Badges, schedules, open alerts and guard settings (never a value); null without an unlocked vault. */
  lifecycle(): LifecycleView | null {
    const host = this.host;
    return host && host.state === 'unlocked' ? lifecycleView(host) : null;
  }

  /** Rotates now (tray "Rotate ›", the app); `value` for manual rotators and pending webhooks. */
  async rotateSecret(name: string, value?: string): Promise<RotateResult> {
    const result = await rotateFromUi(this.requireUnlocked(), name, value, BY);
    this.emit('secretsChanged', {});
    return result;
  }

  clearAlert(which: { id: number } | { all: true }): number {
    return clearAlertFromUi(this.requireUnlocked(), which, BY);
  }

  /** Like `akc guard set`: needs the master password. */
  async setGuardSetting(key: string, value: string, password: string): Promise<unknown> {
    const pw = Buffer.from(password, 'utf8');
    try {
      return await setGuardFromUi(this.requireUnlocked(), key, value, pw, BY);
    } finally {
      pw.fill(0);
    }
  }

  // ------------------------------------------------------------------ agents and grants

  private listAgents(): AgentView[] {
    const host = this.requireUnlocked();
    return host.listAgents().map((a) => agentView(a, this.activity!.lastSeen(a.name)));
  }

  private admin(): PolicyAdmin {
    return new PolicyAdmin(this.requireUnlocked().vault, BY);
  }

  private async registerAgent(i: VerbInput<'registerAgent'>): Promise<AgentView> {
    const { agent } = await this.admin().addAgent({
      name: i.name,
      exePath: i.exePath,
      ...(i.pinSha256 ? { sha256: 'auto' } : {}),
      ...(i.argPattern ? { argPattern: i.argPattern } : {}),
      ...(i.cwdPattern ? { cwdPattern: i.cwdPattern } : {}),
    });
    return agentView(agent, this.activity!.lastSeen(agent.name));
  }

  private revokeAgent(i: VerbInput<'revokeAgent'>): { name: string } {
    this.admin().revokeAgent(i.name);
    return { name: i.name };
  }

  private listGrants(): GrantView[] {
    const host = this.requireUnlocked();
    return host.listGrants().map((g) => grantView(g, (fp) => this.labelFor(fp)));
  }

  private revokeGrant(i: VerbInput<'revokeGrant'>): { id: string; revoked: boolean } {
    const admin = this.admin();
    const g = admin.grants.get(i.id);
    if (!g) throw new AkcError('NOT_FOUND', `no grant ${i.id}`);
    if (grantState(g, this.clock.now()) !== 'live') return { id: i.id, revoked: false };
    admin.ungrant(i.id);
    return { id: i.id, revoked: true };
  }

  private async blockRequester(i: VerbInput<'blockRequester'>): Promise<GrantView> {
    const host = this.requireUnlocked();
    const who = await this.requesterOf(i.auditSeq);
    // The one block rule (policy/block.ts), as "Deny & block" and `akc block` apply it.
    if (who.kind === 'agent') return grantView(host.block({ kind: 'agent', agentId: who.id }, BY).grant);
    const { fingerprint, label, exe } = who;
    return grantView(host.block({ kind: 'program', fingerprint, label, exe }, BY).grant, () => label);
  }

  private async registerAgentFromActivity(i: VerbInput<'registerAgentFromActivity'>): Promise<AgentView> {
    const who = await this.requesterOf(i.auditSeq);
    if (who.kind === 'agent') {
      throw new AkcError('ALREADY_EXISTS', `this request came from the registered agent ${who.name}`);
    }
    const exePath = who.script ?? who.exe;
    if (!exePath) throw new AkcError('NOT_FOUND', 'the log entry does not name the program’s executable');
    return this.registerAgent({ name: i.name, exePath, pinSha256: true });
  }

  /**
   * Who made the request behind a log entry: a registered agent, or a program with its
   * fingerprint. The fingerprint comes from what this app saw (approval prompts), the
   * delivery's lease, or, for a plain executable, its current hash on disk.
   */
  private async requesterOf(
    seq: number,
  ): Promise<
    | { kind: 'agent'; name: string; id: string }
    | { kind: 'program'; fingerprint: string; label: string; exe: string | null; script: string | null }
  > {
    const host = this.requireUnlocked();
    const entry = this.activity!.entry(seq);
    if (!entry) throw new AkcError('NOT_FOUND', `no activity entry ${seq}`);
    if (!entry.agent || entry.pid === null) {
      throw new AkcError('INVALID_ARGUMENT', `activity entry ${seq} is not a request from an agent or program`);
    }
    const agent = host.findAgent(entry.agent);
    if (agent && agent.revokedAt === null) return { kind: 'agent', name: agent.name, id: agent.id };
    // An approval.request entry names its approval id; other entries are matched by label and executable.
    const known =
      (entry.event === 'approval.request' && entry.reason ? this.byApproval.get(entry.reason) : undefined) ??
      this.byLabel.get(`${entry.agent}\0${entry.exe ?? ''}`);
    if (known && !known.agent)
      return { kind: 'program', fingerprint: known.fingerprint, label: known.label, exe: known.exe, script: known.script };
    const leaseId = typeof entry.detail?.lease === 'string' ? entry.detail.lease : null;
    const lease = leaseId ? host.lease(leaseId) : null;
    const isScript = entry.agent.includes(' ');
    if (lease && !lease.agentId) {
      return { kind: 'program', fingerprint: lease.fingerprint, label: entry.agent, exe: entry.exe, script: null };
    }
    if (entry.exe && !isScript) {
      const exeSha256 = await hashExecutable(entry.exe).catch(() => null);
      if (exeSha256) {
        return {
          kind: 'program',
          fingerprint: programFingerprint({ exe: entry.exe, exeSha256, script: null }),
          label: entry.agent,
          exe: entry.exe,
          script: null,
        };
      }
    }
    throw new AkcError('NOT_FOUND', `the program behind activity entry ${seq} can no longer be identified`, {
      hint: isScript
        ? 'register it by hand with its script path, or use “Deny & block” on its next request'
        : 'use “Deny & block” on its next request',
    });
  }

  private remember(p: PendingApproval): void {
    const r = p.requester;
    const known: KnownRequester = {
      label: r.label,
      agent: r.agent?.name ?? null,
      fingerprint: r.fingerprint,
      exe: r.identity.exe,
      exeSha256: r.identity.exeSha256,
      script: r.identity.script,
    };
    const put = <K>(map: Map<K, KnownRequester>, key: K): void => {
      map.delete(key);
      map.set(key, known);
      if (map.size > REQUESTER_MEMORY) map.delete(map.keys().next().value!);
    };
    put(this.byApproval, p.id);
    put(this.byLabel, `${r.label}\0${r.identity.exe ?? ''}`);
    put(this.byFingerprint, r.fingerprint);
  }

  private labelFor(fingerprint: string): string | null {
    return this.byFingerprint.get(fingerprint)?.label ?? null;
  }

  // ------------------------------------------------------------------ activity

  private verifyActivity(): VerbOutput<'verifyActivity'> {
    const host = this.requireHost();
    // The same check as `akc audit verify` (anchor and recorded alarms included).
    return verifyView(host.verifyAudit());
  }

  private async exportActivity(): Promise<VerbOutput<'exportActivity'>> {
    const reader = this.unlockedActivity();
    const day = new Date(this.clock.now()).toISOString().slice(0, 10);
    const file = await this.saveDialog.chooseSavePath({
      title: 'Export activity log',
      defaultName: `agent-keychain-activity-${day}.jsonl`,
      filters: [{ name: 'JSON Lines', extensions: ['jsonl'] }],
    });
    if (!file) return { count: 0, path: null };
    if (!path.isAbsolute(file)) throw new AkcError('INVALID_ARGUMENT', 'the export path must be absolute');
    let count: number;
    try {
      count = await reader.exportJsonl(file);
    } catch (cause) {
      throw new AkcError('IO', `failed to write ${file}`, { cause });
    }
    this.requireHost().record({ event: 'audit.export', reason: `${count} entries exported by ${BY}` });
    return { count, path: file };
  }

  /** Emits rows appended since the last look (ours, the host's, or another process's). */
  private pump(): void {
    const reader = this.activity;
    if (!reader || this.closed) return;
    let touchedSecrets = false;
    try {
      for (;;) {
        const entries = reader.since(this.lastSeq);
        if (entries.length === 0) break;
        this.lastSeq = entries[entries.length - 1]!.seq;
        if (entries.some((e) => /^secret\.(create|update|delete|deliver|rotate)$/.test(e.event))) touchedSecrets = true;
        this.emit('activityAppended', entries);
        if (entries.length < 500) break;
      }
    } catch (err) {
      this.logger.warn(`failed to read new activity: ${err instanceof Error ? err.name : 'error'}`);
      return;
    }
    if (touchedSecrets) this.emit('secretsChanged', {});
  }

  // ------------------------------------------------------------------ approvals

  private approvalViews(): VerbOutput<'listApprovals'> {
    const host = this.host;
    if (!host) return [];
    const unlocked = host.state === 'unlocked';
    return host.pendingApprovals().map((p) => approvalView(p, unlocked));
  }

  private async decideApproval(i: VerbInput<'decideApproval'>): Promise<{ approvalId: string }> {
    const host = this.requireHost();
    if (i.allow && i.block) throw new AkcError('INVALID_ARGUMENT', 'a request cannot be allowed and blocked at once');
    const password = i.password !== undefined ? Buffer.from(i.password, 'utf8') : undefined;
    try {
      await host.decide(i.approvalId, { allow: i.allow, scope: i.scope, block: i.block, by: BY }, password);
    } finally {
      password?.fill(0);
    }
    return { approvalId: i.approvalId };
  }

  /** Denies a request whose popup was closed or could not be shown (never throws). */
  async denyApproval(approvalId: string, why: string): Promise<void> {
    try {
      await this.host?.decide(approvalId, { allow: false, scope: 'once', block: false, by: `${BY} (${why})` });
    } catch (err) {
      if (!isAkcError(err, 'NOT_FOUND')) this.logger.warn(`failed to deny ${approvalId}: ${err instanceof Error ? err.message : 'error'}`);
    }
  }

  // ------------------------------------------------------------------ settings

  private updateSettings(i: VerbInput<'updateSettings'>): Settings {
    const host = this.requireUnlocked();
    this.settingsCache = writeSettings(host.vault, i, BY);
    host.approvalTimeoutMs = this.settingsCache.approvalTimeoutSeconds * 1000;
    return this.settings;
  }

  private async setKeychainUnlock(i: VerbInput<'setKeychainUnlock'>): Promise<Settings> {
    const host = this.requireHost();
    const password = Buffer.from(i.password, 'utf8');
    try {
      await host.setKeychainUnlock(i.enabled, password);
    } finally {
      password.fill(0);
    }
    this.emit('stateChanged', this.appState());
    return this.settings;
  }
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}
