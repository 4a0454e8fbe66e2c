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
  /**
   * Why the keychain cannot be reached from this process (no D-Bus session bus over SSH,
   * say), or null when it can as far as one can tell. Asked when `get` found nothing: some
   * backends then answer "no entry" instead of failing, and "deleted" would be the wrong story.
   */
  unreachable?(): Promise<string | null>;
}

export const DEFAULT_KEYCHAIN_SERVICE = 'agent-keychain';
