/** What every command gets: parsed args, I/O, paths, and helpers to open and unlock the vault. */
import { AkcError, isAkcError } from '../shared/errors.js';
import { flag, type ParsedArgs } from './args.js';
import { InputReader, type Io } from './io.js';
import { sanitizeLine } from '../shared/sanitize.js';
import type { AkcPaths } from '../core/paths.js';
import type { Vault } from '../core/vault/vault.js';

export interface CommandContext {
  args: ParsedArgs;
  io: Io;
  input: InputReader;
  paths: AkcPaths;
  json: boolean;
  /** The command's words (`secret list`), for messages. */
  command: string;
  /** Writes a status line to stderr (never data). */
  note(text: string): void;
}

export function makeContext(args: ParsedArgs, io: Io, paths: AkcPaths, command = ''): CommandContext {
  return {
    args,
    io,
    paths,
    json: flag(args, 'json'),
    command,
    input: new InputReader(io, {
      passwordStdin: flag(args, 'password-stdin'),
      valueStdin: flag(args, 'value-stdin'),
      keepNewline: flag(args, 'keep-newline'),
    }),
    // Notes quote paths and names (scanned file names, agents' programs): inert on a terminal.
    note: (text) => io.stderr.write(`akc: ${sanitizeLine(text, 4096)}\n`),
  };
}

/**
 * In hardened mode (`akc service install`) vault.db belongs to the service user: a command
 * that would open it directly says so in one line instead (the data dir here is not the
 * vault the host serves, and the service's own one is unreadable: EACCES). The commands
 * the host serves go through it (service-admin.ts) before ever calling openVault.
 */
export function refuseInServiceMode(ctx: CommandContext, why = 'it opens vault.db directly'): void {
  const service = ctx.paths.service;
  if (!service) return;
  const what = ctx.command ? `\`akc ${ctx.command}\`` : 'this command';
  throw new AkcError('DENIED', `${what} does not work in hardened mode yet: ${why}, and the vault belongs to ${service.serviceUser}`, {
    hint: `run it as the service user, e.g. \`sudo -u ${service.serviceUser} AKC_HOME=${service.dataDir} akc ${ctx.command || 'COMMAND'} …\` (see README "Hardened mode")`,
  });
}

/** Opens the vault in the data dir; NOT_INITIALIZED when there is none. Refused in hardened mode. */
export async function openVault(ctx: CommandContext, opts: { mustExist?: boolean } = {}): Promise<Vault> {
  refuseInServiceMode(ctx);
  const [{ Vault }, { NapiKeychain }] = await Promise.all([import('../core/vault/vault.js'), import('../core/keychain/napi-keychain.js')]);
  const vault = Vault.open({ dataDir: ctx.paths.dataDir, keychain: new NapiKeychain(ctx.paths.keychainService) });
  if ((opts.mustExist ?? true) && vault.state === 'uninitialized') {
    vault.close();
    throw new AkcError('NOT_INITIALIZED', `no vault in ${ctx.paths.dataDir}`, { hint: 'run `akc init` to create one (or set AKC_HOME)' });
  }
  return vault;
}

/**
 * Unlocks for a command that only reads: the OS keychain when keychain unlock is on
 * (and no --password-stdin was given), falling back to the password with a hint.
 * Returns which one opened the vault (for audit entries).
 */
export async function unlockForRead(ctx: CommandContext, vault: Vault): Promise<'keychain' | 'password'> {
  if (vault.keychainUnlockEnabled && !flag(ctx.args, 'password-stdin')) {
    try {
      await vault.unlockWithKeychain();
      return 'keychain';
    } catch (err) {
      if (!isAkcError(err, 'KEYCHAIN_UNAVAILABLE')) throw err;
      ctx.note(`hint: keychain unlock failed (${err.message}); asking for the master password instead`);
      if (err.hint) ctx.note(`hint: ${err.hint}`);
    }
  }
  (await unlockWithPassword(ctx, vault)).fill(0);
  return 'password';
}

/**
 * Unlocks for a command that changes something: always the master password. On Linux and
 * Windows any program running as this user (an agent included) can read the keychain
 * entry, so the keychain must never be enough to change secrets or policy.
 */
export async function unlockForWrite(ctx: CommandContext, vault: Vault): Promise<Buffer> {
  return unlockWithPassword(ctx, vault);
}

async function unlockWithPassword(ctx: CommandContext, vault: Vault): Promise<Buffer> {
  const password = await ctx.input.password();
  try {
    await vault.unlockWithPassword(password);
  } catch (err) {
    password.fill(0);
    throw err;
  }
  return password;
}
