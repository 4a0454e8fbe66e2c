/**
 * Whether a new vault turns keychain unlock on when the user does not say.
 *
 * Security argument: keychain unlock stores a random unlock key in the OS keychain. On
 * macOS the Keychain item is bound to the application that created it; other programs
 * trigger a system prompt. On Linux (Secret Service) and Windows (Credential Manager) any
 * program running as the user reads the entry without a prompt — and with it and
 * `vault.db`, decrypts every secret without a host, an approval or an audit entry. The
 * adversary we defend against first is an agent running as that user, so on those
 * platforms the default is password-only unlock; keychain unlock is an explicit opt-in
 * (`akc init --keychain`, the setup screen's checkbox), or use the hardened service mode.
 */
export function keychainUnlockByDefault(platform: string): boolean {
  return platform === 'darwin';
}

/** One line on what keychain unlock means on `platform` (CLI and setup screen). */
export function keychainExposure(platform: string, keychainName: string): string {
  if (platform === 'darwin') {
    return `The unlock key is stored in your ${keychainName} and bound to Agent Keychain: other apps have to ask macOS before they can read it.`;
  }
  return `The unlock key is stored in ${keychainName}, where any program running as your user — an agent included — can read it and, with vault.db, decrypt every secret. Leave this off if you run agents as this user, or use the hardened mode (akc service install).`;
}
