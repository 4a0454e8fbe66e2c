/**
 * The renderer's only way out: `window.keychain`, defined by the Electron preload (or by
 * the test bridge). Errors cross as `{ code, message, hint? }`; `errorText` turns one
 * into a sentence for the screen.
 */
import type { ContractError, EventName, EventPayloads, KeychainApi } from '../../shared/contract';
import { sentence } from './format';

declare global {
  interface Window {
    keychain?: KeychainApi;
  }
}

export function hasApi(): boolean {
  return typeof window !== 'undefined' && window.keychain !== undefined;
}

export function api(): KeychainApi {
  if (!window.keychain) throw new Error('window.keychain is missing');
  return window.keychain;
}

export interface UiError {
  code: string;
  message: string;
  hint: string | null;
}

/** Normalises whatever a verb rejected with. Never shows raw JSON or a stack. */
export function toUiError(err: unknown): UiError {
  if (err && typeof err === 'object') {
    const e = err as Partial<ContractError> & { message?: unknown };
    const code = typeof e.code === 'string' ? e.code : 'INTERNAL';
    let message = typeof e.message === 'string' ? e.message : 'something went wrong';
    // Electron prefixes errors thrown in an IPC handler; keep only what the core said.
    message = message.replace(/^Error invoking remote method '[^']*': (?:[A-Za-z]*Error: )?/, '');
    return { code, message: sentence(message), hint: typeof e.hint === 'string' && e.hint ? sentence(e.hint) : null };
  }
  return { code: 'INTERNAL', message: sentence(String(err)), hint: null };
}

export function subscribe<E extends EventName>(event: E, listener: (payload: EventPayloads[E]) => void): () => void {
  if (!hasApi()) return () => {};
  return api().on(event, listener);
}
