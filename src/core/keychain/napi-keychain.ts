/**
 * KeychainPort over @napi-rs/keyring (the maintained successor of the archived keytar):
 * macOS Keychain, Windows Credential Manager, Secret Service on Linux.
 */
import { AkcError, describeCause } from '../../shared/errors.js';
import { DEFAULT_KEYCHAIN_SERVICE, type KeychainPort } from './port.js';

/** A keychain that never answers within this long is treated as unavailable. */
const KEYCHAIN_TIMEOUT_MS = 10_000;

type AsyncEntryCtor = new (
  service: string,
  account: string,
) => {
  getPassword(signal?: AbortSignal): Promise<string | null>;
  setPassword(password: string, signal?: AbortSignal): Promise<void>;
  deletePassword(signal?: AbortSignal): Promise<boolean>;
};

let entryCtor: Promise<AsyncEntryCtor> | undefined;
function loadEntry(): Promise<AsyncEntryCtor> {
  // Lazy: commands that never touch the keychain do not pay for loading the addon.
  entryCtor ??= import('@napi-rs/keyring').then((m) => m.AsyncEntry as unknown as AsyncEntryCtor);
  return entryCtor;
}

export function platformKeychainName(platform: NodeJS.Platform = process.platform): string {
  if (platform === 'darwin') return 'macOS Keychain';
  if (platform === 'win32') return 'Windows Credential Manager';
  return 'Secret Service (e.g. gnome-keyring)';
}

export class NapiKeychain implements KeychainPort {
  readonly description = platformKeychainName();

  constructor(private readonly service: string = process.env.AKC_KEYCHAIN_SERVICE || DEFAULT_KEYCHAIN_SERVICE) {}

  get(account: string): Promise<string | null> {
    return this.call('read', (e, signal) => e.getPassword(signal), account);
  }

  set(account: string, value: string): Promise<void> {
    return this.call('write', (e, signal) => e.setPassword(value, signal), account);
  }

  delete(account: string): Promise<boolean> {
    return this.call('delete', (e, signal) => e.deletePassword(signal), account);
  }

  private async call<T>(
    verb: string,
    fn: (entry: InstanceType<AsyncEntryCtor>, signal: AbortSignal) => Promise<T>,
    account: string,
  ): Promise<T> {
    const signal = AbortSignal.timeout(KEYCHAIN_TIMEOUT_MS);
    try {
      const Entry = await loadEntry();
      return await fn(new Entry(this.service, account), signal);
    } catch (cause) {
      throw new AkcError('KEYCHAIN_UNAVAILABLE', `failed to ${verb} the ${this.description} entry: ${describeCause(cause)}`, {
        cause,
        hint:
          process.platform === 'linux'
            ? 'is a Secret Service (gnome-keyring, KeePassXC) running and unlocked in this session?'
            : 'check that the OS keychain is available and unlocked',
      });
    }
  }
}
