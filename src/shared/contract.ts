/**
 * The main ⇄ renderer contract: every verb the renderer may call, with the schema its
 * input is validated against at the receiver, and every event it may subscribe to.
 *
 * The Electron preload exposes exactly these verbs as `window.keychain.<verb>(input)`;
 * the main process validates each input with the schema here before acting. The test
 * bridge (test/ui) implements the same contract against a real core, so the renderer is
 * tested in Chromium without Electron.
 */
import { z } from 'zod';
import { SECRET_NAME_PATTERN, SECRET_TYPES, type SecretType } from './secrets.js';

const secretName = z.string().regex(SECRET_NAME_PATTERN, { error: 'expected a secret name' });
const password = z.string().min(1).max(1024);
const agentName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, { error: 'expected an agent name' });
const bindingName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, { error: 'expected a binding name' });
export const UI_SCOPES = ['once', '15m', '1h', 'until_lock', 'always'] as const;
export type UiScope = (typeof UI_SCOPES)[number];

export const contractInputs = {
  getAppState: z.strictObject({}),
  setupVault: z.strictObject({ password, keychain: z.boolean() }),
  unlock: z.strictObject({ password }),
  unlockWithKeychain: z.strictObject({}),
  lock: z.strictObject({ revokeAll: z.boolean().optional() }),

  listSecrets: z.strictObject({}),
  getSecretDetail: z.strictObject({ name: secretName }),
  saveSecret: z.strictObject({
    name: secretName,
    type: z.enum(SECRET_TYPES),
    description: z.string().max(500),
    owner: z.string().max(200).optional(),
    tags: z.array(z.string().max(64)).max(32).optional(),
    /** Absent: metadata only. */
    value: z.string().min(1).max(65536).optional(),
  }),
  deleteSecret: z.strictObject({ name: secretName }),
  /** The human explicitly reveals a value (the UI confirms first and hides it after 30 s). */
  revealSecret: z.strictObject({ name: secretName, version: z.int().positive().optional() }),
  /** Copies in the main process (the value never enters the renderer); cleared after 30 s. */
  copySecret: z.strictObject({ name: secretName, version: z.int().positive().optional() }),

  listAgents: z.strictObject({}),
  registerAgent: z.strictObject({
    name: agentName,
    exePath: z.string().min(1).max(4096),
    pinSha256: z.boolean(),
    argPattern: z.string().max(512).optional(),
    cwdPattern: z.string().max(4096).optional(),
  }),
  revokeAgent: z.strictObject({ name: agentName }),
  listGrants: z.strictObject({}),
  revokeGrant: z.strictObject({ id: z.string().min(1).max(64) }),
  /** Blocks a program or agent seen in the activity log (a deny-always grant). */
  blockRequester: z.strictObject({ auditSeq: z.int().positive() }),
  /** Registers an agent from a past request (its executable path and hash). */
  registerAgentFromActivity: z.strictObject({ auditSeq: z.int().positive(), name: agentName }),

  queryActivity: z.strictObject({
    agent: z.string().max(200).optional(),
    secret: z.string().max(200).optional(),
    decision: z.enum(['allow', 'deny', 'block', 'failed', 'ok']).optional(),
    sinceMs: z.number().optional(),
    untilMs: z.number().optional(),
    text: z.string().max(200).optional(),
    beforeSeq: z.int().positive().optional(),
    limit: z.int().min(1).max(1000).optional(),
  }),
  verifyActivity: z.strictObject({}),
  exportActivity: z.strictObject({}),

  listApprovals: z.strictObject({}),
  decideApproval: z.strictObject({
    approvalId: z.string().min(1).max(64),
    allow: z.boolean(),
    scope: z.enum(UI_SCOPES),
    block: z.boolean(),
    /** Needed for "always" and when the vault is locked. */
    password: password.optional(),
  }),

  getSettings: z.strictObject({}),
  updateSettings: z.strictObject({
    autoLockMinutes: z
      .int()
      .min(0)
      .max(24 * 60)
      .optional(),
    lockOnSleep: z.boolean().optional(),
    approvalTimeoutSeconds: z.int().min(10).max(600).optional(),
    notifications: z.boolean().optional(),
  }),
  setKeychainUnlock: z.strictObject({ enabled: z.boolean(), password }),

  /** Lifecycle (rotation, expiry, alerts, guard): badges and schedules, never values. */
  getLifecycle: z.strictObject({}),
  /** Rotates now with the secret's rotator; `value` for manual rotators (masked field). */
  rotateSecret: z.strictObject({ name: secretName, value: z.string().min(1).max(65536).optional() }),
  clearAlert: z.strictObject({ id: z.int().positive().optional(), all: z.boolean().optional() }),
  setGuardSetting: z.strictObject({ key: z.string().min(1).max(64), value: z.string().max(200), password }),

  /** Brokering-proxy bindings (core/proxy/admin.ts, as `akc proxy …`): names and URLs, never a value. */
  listProxyBindings: z.strictObject({}),
  /** Adds (or with `replace`, changes) a binding; where a secret may be sent, so it needs the password. */
  saveProxyBinding: z.strictObject({
    name: bindingName,
    upstream: z.string().min(1).max(2048),
    secret: secretName,
    auth: z.discriminatedUnion('kind', [
      z.strictObject({ kind: z.literal('header'), header: z.string().min(1).max(128), template: z.string().min(1).max(1024) }),
      z.strictObject({ kind: z.literal('query'), param: z.string().min(1).max(128), template: z.string().min(1).max(1024) }),
      z.strictObject({ kind: z.literal('basic'), user: z.string().min(1).max(256) }),
    ]),
    allow: z.array(z.string().min(1).max(256)).max(64),
    allowPrivate: z.boolean(),
    baseUrlEnv: z.string().max(128).nullable(),
    replace: z.boolean(),
    password,
  }),
  /** Removing only takes a path away: no password, as revoking an agent. */
  removeProxyBinding: z.strictObject({ name: bindingName }),
  quitApp: z.strictObject({}),
};

export type Verb = keyof typeof contractInputs;
export const VERBS = Object.keys(contractInputs) as Verb[];
export type VerbInput<V extends Verb> = z.infer<(typeof contractInputs)[V]>;

// ------------------------------------------------------------------------------ outputs

export type VaultStatus = 'uninitialized' | 'locked' | 'unlocked';

export interface AppState {
  vault: VaultStatus;
  keychainUnlock: boolean;
  /** e.g. "Secret Service (e.g. gnome-keyring)". */
  keychainName: string;
  platform: string;
  /** Set when another host (a daemon) already serves the socket. */
  hostConflict: string | null;
  socketPath: string;
  dataDir: string;
  pendingApprovals: number;
  version: string;
}

export interface SecretRow {
  name: string;
  type: SecretType;
  description: string;
  owner: string;
  tags: string[];
  currentVersion: number;
  createdAt: number;
  updatedAt: number;
  lastUsedAt: number | null;
  usedBy: string[];
}

export interface SecretDetail extends SecretRow {
  versions: { version: number; state: 'current' | 'previous' | 'retired'; createdAt: number }[];
  grants: GrantView[];
}

export interface AgentView {
  id: string;
  name: string;
  exePath: string;
  exeSha256: string | null;
  argPattern: string | null;
  cwdPattern: string | null;
  createdAt: number;
  lastSeenAt: number | null;
}

export interface GrantView {
  id: string;
  /** Agent name, or the program label for an unregistered program. */
  requester: string;
  exePath: string | null;
  exeSha256: string | null;
  secretPattern: string;
  effect: 'allow' | 'deny';
  scope: 'once' | 'duration' | 'until_lock' | 'always';
  expiresAt: number | null;
  usesLeft: number | null;
  createdAt: number;
  createdBy: string;
}

export interface ActivityEntry {
  seq: number;
  ts: number;
  event: string;
  agent: string | null;
  pid: number | null;
  exe: string | null;
  secret: string | null;
  version: number | null;
  decision: string | null;
  purpose: string | null;
  reason: string | null;
}

export interface ActivityPage {
  entries: ActivityEntry[];
  total: number;
  /** For the next (older) page, or null at the start of the log. */
  nextBeforeSeq: number | null;
}

export interface VerifyView {
  ok: boolean;
  entries: number;
  checkpointsVerified: number;
  macChecked: boolean;
  firstBadSeq: number | null;
  problem: string | null;
}

export interface ProcessView {
  pid: number;
  exe: string | null;
  script: string | null;
  argv: string[];
  cwd: string | null;
}

export interface ApprovalView {
  id: string;
  agent: string | null;
  program: string;
  pid: number;
  uid: number;
  exe: string | null;
  script: string | null;
  exeSha256: string | null;
  argv: string[];
  cwd: string | null;
  parents: ProcessView[];
  badge: 'known' | 'new' | 'changed';
  secrets: string[];
  purpose: string | null;
  http: { method: string; host: string; path: string } | null;
  /** For `akc run`: the command line that would hold the values, its resolved executable, and whether an agent chose it. */
  command: { line: string; exe: string | null; agentChosen: boolean } | null;
  count: number;
  createdAt: number;
  expiresAt: number;
  needsUnlock: boolean;
  coveredByGrant: boolean;
}

export interface Settings {
  autoLockMinutes: number;
  lockOnSleep: boolean;
  approvalTimeoutSeconds: number;
  notifications: boolean;
  keychainUnlock: boolean;
}

export type LifecycleBadge = 'expired' | 'expiring' | 'rotation-failed' | 'rotation-due' | 'rotation-pending' | 'canary' | null;

export interface SecretLifecycleView {
  name: string;
  owner: string;
  purpose: string;
  expiresAt: number | null;
  /** The most urgent thing to show next to the secret (null: nothing). */
  badge: LifecycleBadge;
  rotator: string | null;
  rotatorKind: 'generate' | 'command' | 'webhook' | 'manual' | null;
  rotateEveryMs: number | null;
  graceMs: number | null;
  lastRotatedAt: number | null;
  nextRotationAt: number | null;
  rotationPendingAt: number | null;
  canary: boolean;
}

export interface AlertView {
  id: number;
  ts: number;
  kind: 'rotation.failed' | 'rotation.due' | 'guard.fired' | 'tamper.row';
  secret: string | null;
  rule: string | null;
  agent: string | null;
  message: string;
}

export interface LifecycleView {
  secrets: SecretLifecycleView[];
  /** Open alerts, newest first. */
  alerts: AlertView[];
  guard: { key: string; value: unknown; default: unknown; description: string }[];
}

export type ProxyAuthView = VerbInput<'saveProxyBinding'>['auth'];

export interface ProxyBindingView {
  name: string;
  /** Normalised origin and base path: `https://api.openai.com`. */
  upstream: string;
  secret: string;
  auth: ProxyAuthView;
  /** `METHOD /path-glob` rules; empty = every method and path. */
  allow: string[];
  allowPrivate: boolean;
  baseUrlEnv: string | null;
  /** Where an agent calls it (`http://127.0.0.1:PORT/NAME`), or null before a host chose the port. */
  url: string | null;
  /** The variables `akc run --proxy NAME` sets (base URL, placeholder key), or null without a URL. */
  env: Record<string, string> | null;
  secretExists: boolean;
  /** 'refused': the row changed outside Agent Keychain, and the proxy ignores it. */
  integrity: 'trusted' | 'unverified' | 'refused';
  createdAt: number;
  updatedAt: number;
}

export interface ProxyBindingsView {
  /** The proxy this app runs: loopback URL (null: TCP off or not chosen yet) and Unix socket. */
  proxy: { url: string | null; socket: string; running: boolean };
  bindings: ProxyBindingView[];
}

export type RotateOutcome = { kind: 'rotated'; name: string; version: number } | { kind: 'pending'; name: string; since: number };

export interface VerbOutputs {
  getAppState: AppState;
  setupVault: AppState;
  unlock: AppState;
  unlockWithKeychain: AppState;
  lock: AppState;
  listSecrets: SecretRow[];
  getSecretDetail: SecretDetail;
  saveSecret: { name: string; version: number };
  deleteSecret: { name: string };
  revealSecret: { name: string; version: number; value: string };
  copySecret: { name: string; clearsInSeconds: number };
  listAgents: AgentView[];
  registerAgent: AgentView;
  revokeAgent: { name: string };
  listGrants: GrantView[];
  revokeGrant: { id: string; revoked: boolean };
  blockRequester: GrantView;
  registerAgentFromActivity: AgentView;
  queryActivity: ActivityPage;
  verifyActivity: VerifyView;
  exportActivity: { count: number; path: string | null };
  listApprovals: ApprovalView[];
  decideApproval: { approvalId: string };
  getSettings: Settings;
  updateSettings: Settings;
  setKeychainUnlock: Settings;
  quitApp: Record<string, never>;
  getLifecycle: LifecycleView | null;
  rotateSecret: RotateOutcome;
  clearAlert: { cleared: number };
  setGuardSetting: { key: string };
  listProxyBindings: ProxyBindingsView;
  saveProxyBinding: ProxyBindingView;
  removeProxyBinding: { name: string };
}

export type VerbOutput<V extends Verb> = VerbOutputs[V];

// ------------------------------------------------------------------------------ events

export interface EventPayloads {
  stateChanged: AppState;
  approvalsChanged: ApprovalView[];
  activityAppended: ActivityEntry[];
  secretsChanged: Record<string, never>;
}
export type EventName = keyof EventPayloads;
export const EVENTS: EventName[] = ['stateChanged', 'approvalsChanged', 'activityAppended', 'secretsChanged'];

/** What `window.keychain` looks like in the renderer (preload or test bridge). */
export type KeychainApi = {
  [V in Verb]: (input: VerbInput<V>) => Promise<VerbOutput<V>>;
} & {
  on<E extends EventName>(event: E, listener: (payload: EventPayloads[E]) => void): () => void;
};

/** Errors cross the boundary as `{ code, message, hint }` only (never a stack or a value). */
export interface ContractError {
  code: string;
  message: string;
  hint?: string;
}

/** Validates a verb's input at the receiver; throws "malformed <verb> input: <reason>". */
export function parseVerbInput<V extends Verb>(verb: V, input: unknown): VerbInput<V> {
  const schema = contractInputs[verb];
  const result = schema.safeParse(input ?? {});
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue && issue.path.length ? issue.path.join('.') + ': ' : '';
    throw Object.assign(new Error(`malformed ${verb} input: ${where}${issue?.message ?? 'invalid'}`), { code: 'INVALID_ARGUMENT' });
  }
  return result.data as VerbInput<V>;
}

export function isVerb(name: string): name is Verb {
  return Object.hasOwn(contractInputs, name);
}
