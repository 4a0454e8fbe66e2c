/**
 * `window.keychain` as one pure factory over an IPC port: one function per contract verb
 * and `on(event, listener)` for the contract's events — nothing else, no generic invoke.
 * The preload (index.ts) calls it with Electron's `ipcRenderer`; the Chromium UI suite
 * runs the built preload bundle with a port of its own (test/ui/bridge.ts), so the
 * renderer tests go through this very envelope unwrapping and event subscription.
 *
 * The verb list is written out here so that no third-party code (zod) runs in the
 * preload; `Record<Verb, true>` makes the compiler reject a missing or unknown verb, so
 * the list cannot drift from src/shared/contract.ts.
 */
import type { ContractError, EventName, KeychainApi, Verb } from '../shared/contract';

/** The part of `ipcRenderer` the API needs. */
export interface PreloadIpc {
  invoke(channel: string, input: unknown): Promise<unknown>;
  on(channel: string, listener: (event: unknown, ...args: unknown[]) => void): unknown;
  removeListener(channel: string, listener: (event: unknown, ...args: unknown[]) => void): unknown;
}

/** Every verb, on the channel `akc:<verb>`. */
export const VERB_CHANNEL_PREFIX = 'akc:';
/** Every event arrives on this one channel as `(name, payload)`. */
export const EVENT_CHANNEL = 'akc:event';

const VERB_TABLE: Record<Verb, true> = {
  getAppState: true,
  setupVault: true,
  unlock: true,
  unlockWithKeychain: true,
  lock: true,
  listSecrets: true,
  getSecretDetail: true,
  saveSecret: true,
  deleteSecret: true,
  revealSecret: true,
  copySecret: true,
  listAgents: true,
  registerAgent: true,
  revokeAgent: true,
  listGrants: true,
  revokeGrant: true,
  blockRequester: true,
  registerAgentFromActivity: true,
  queryActivity: true,
  verifyActivity: true,
  exportActivity: true,
  listApprovals: true,
  decideApproval: true,
  getSettings: true,
  updateSettings: true,
  setKeychainUnlock: true,
  quitApp: true,
  getLifecycle: true,
  rotateSecret: true,
  clearAlert: true,
  setGuardSetting: true,
  listProxyBindings: true,
  saveProxyBinding: true,
  removeProxyBinding: true,
};

const EVENT_TABLE: Record<EventName, true> = {
  stateChanged: true,
  approvalsChanged: true,
  activityAppended: true,
  secretsChanged: true,
};

type Envelope = { ok: true; value: unknown } | { ok: false; error: ContractError };

export function createKeychainApi(ipc: PreloadIpc): KeychainApi {
  const call = async (verb: Verb, input: unknown): Promise<unknown> => {
    const reply = (await ipc.invoke(VERB_CHANNEL_PREFIX + verb, input ?? {})) as Envelope;
    if (reply.ok) return reply.value;
    // A plain object, so every field survives the context bridge (an Error keeps only its message).
    throw { code: reply.error.code, message: reply.error.message, ...(reply.error.hint ? { hint: reply.error.hint } : {}) };
  };
  const api: Record<string, unknown> = {};
  for (const verb of Object.keys(VERB_TABLE) as Verb[]) {
    api[verb] = (input: unknown) => call(verb, input);
  }
  api.on = (event: EventName, listener: (payload: unknown) => void): (() => void) => {
    if (!Object.hasOwn(EVENT_TABLE, event) || typeof listener !== 'function') throw new TypeError('unknown event');
    // One handler per subscription: subscribing the same function twice gives two.
    const handler = (_e: unknown, name: unknown, payload: unknown): void => {
      if (name === event) listener(payload);
    };
    ipc.on(EVENT_CHANNEL, handler);
    return () => {
      ipc.removeListener(EVENT_CHANNEL, handler);
    };
  };
  return api as unknown as KeychainApi;
}
