/**
 * The OS keychain as seen by the core. Implementations live at the edge
 * (`napi-keychain.ts` for the real OS keychain); tests use the real one too.
 */
export interface KeychainPort {
  /** Returns the stored value, or null when there is no entry. Throws KEYCHAIN_UNAVAILABLE. */
  get(account: string): Promise<string | null>;
  set(account: string, value: string): Promise<void>;
  /** Returns whether an entry was deleted. */
  delete(account: string): Promise<boolean>;
  /** A short description for messages ("Secret Service (gnome-keyring)"). */
  readonly description: string;
}

export const DEFAULT_KEYCHAIN_SERVICE = 'agent-keychain';
