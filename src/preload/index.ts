/**
 * The preload (sandboxed, CommonJS): exposes `window.keychain` with one function per
 * contract verb and `on(event, listener)` for the contract's events — nothing else, no
 * generic invoke. Inputs are validated again in the main process (DesktopService.dispatch).
 *
 * The verb list is written out here so that no third-party code (zod) runs in the
 * preload; `Record<Verb, true>` makes the compiler reject a missing or unknown verb, so
 * the list cannot drift from src/shared/contract.ts.
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import type { ContractError, EventName, KeychainApi, Verb } from '../shared/contract';

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
};

const EVENT_TABLE: Record<EventName, true> = {
  stateChanged: true,
  approvalsChanged: true,
  activityAppended: true,
  secretsChanged: true,
};

type Envelope = { ok: true; value: unknown } | { ok: false; error: ContractError };

async function call(verb: Verb, input: unknown): Promise<unknown> {
  const reply = (await ipcRenderer.invoke('akc:' + verb, input ?? {})) as Envelope;
  if (reply.ok) return reply.value;
  // A plain object, so every field survives the context bridge.
  throw { code: reply.error.code, message: reply.error.message, ...(reply.error.hint ? { hint: reply.error.hint } : {}) };
}

const api: Record<string, unknown> = {};
for (const verb of Object.keys(VERB_TABLE) as Verb[]) {
  api[verb] = (input: unknown) => call(verb, input);
}
api.on = (event: EventName, listener: (payload: unknown) => void): (() => void) => {
  if (!Object.hasOwn(EVENT_TABLE, event) || typeof listener !== 'function') throw new TypeError('unknown event');
  const handler = (_e: IpcRendererEvent, name: unknown, payload: unknown): void => {
    if (name === event) listener(payload);
  };
  ipcRenderer.on('akc:event', handler);
  return () => {
    ipcRenderer.removeListener('akc:event', handler);
  };
};

contextBridge.exposeInMainWorld('keychain', api as unknown as KeychainApi);
