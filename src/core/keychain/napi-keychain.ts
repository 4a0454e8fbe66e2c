/**
 * KeychainPort over @napi-rs/keyring (the maintained successor of the archived keytar):
 * macOS Keychain, Windows Credential Manager, Secret Service on Linux.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
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

  unreachable(): Promise<string | null> {
    return process.platform === 'linux' ? sessionBusProblem(process.env) : Promise.resolve(null);
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

/** How long the probe waits for the session bus to accept a connection. */
const BUS_PROBE_MS = 1000;

/**
 * Linux: the Secret Service lives on the D-Bus session bus. Without one (an SSH login, a
 * container, a service) @napi-rs/keyring answers "no entry" for every read. Returns why
 * the bus cannot be reached, or null when a connection to it succeeds.
 */
export async function sessionBusProblem(env: NodeJS.ProcessEnv): Promise<string | null> {
  const address = env.DBUS_SESSION_BUS_ADDRESS;
  let target: string | null = null;
  if (address) {
    // The first unix: transport (libdbus tries them in order); abstract names start with NUL.
    for (const part of address.split(';')) {
      const m = /^unix:(.*)$/.exec(part.trim());
      if (!m) continue;
      const kv = Object.fromEntries(m[1]!.split(',').map((x) => x.split('=') as [string, string]));
      if (kv.path) target = decodeURIComponent(kv.path);
      else if (kv.abstract) target = `\0${decodeURIComponent(kv.abstract)}`;
      if (target) break;
    }
    if (!target) return null; // a transport this probe does not speak (tcp:): assume it works
  } else {
    const runtime = env.XDG_RUNTIME_DIR;
    const fallback = runtime ? path.join(runtime, 'bus') : null;
    if (!fallback || !fs.existsSync(fallback)) return 'no D-Bus session bus in this session (DBUS_SESSION_BUS_ADDRESS is not set)';
    target = fallback;
  }
  const shown = target.startsWith('\0') ? `unix:abstract=${target.slice(1)}` : target;
  return new Promise((resolve) => {
    const socket = net.connect(target!);
    const done = (problem: string | null): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(problem);
    };
    const timer = setTimeout(() => done(`the D-Bus session bus at ${shown} does not answer`), BUS_PROBE_MS);
    socket.once('connect', () => done(null));
    socket.once('error', (err: NodeJS.ErrnoException) =>
      done(`the D-Bus session bus at ${shown} is unreachable (${err.code ?? err.message})`),
    );
  });
}
