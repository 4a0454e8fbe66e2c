/**
 * `akc daemon` with no vault yet: on a terminal it creates one through the same prompts
 * as `akc init` (password chosen twice, keychain unlock per the OS default), so a new
 * user's first command gives a working host. Without a terminal it refuses: a script or
 * a service manager must never create a vault with a password nobody typed.
 */
import fs from 'node:fs';
import { AkcError } from '../../shared/errors.js';
import { flag } from '../args.js';
import type { CommandContext } from '../context.js';
import { Vault } from '../../core/vault/vault.js';
import { NapiKeychain, platformKeychainName } from '../../core/keychain/napi-keychain.js';
import { vaultPath } from '../../core/store/database.js';
import { keychainExposure, keychainUnlockByDefault } from '../../shared/keychain-default.js';
import { weakKdfWarning } from '../kdf-report.js';

/** The new vault's password (the caller unlocks with it, then zeroes it), or null when a vault exists. */
export async function createVaultOnFirstRun(ctx: CommandContext): Promise<Buffer | null> {
  const dataDir = ctx.paths.dataDir;
  if (fs.existsSync(vaultPath(dataDir))) return null;
  if (!process.stdin.isTTY || flag(ctx.args, 'password-stdin')) {
    throw new AkcError('NOT_INITIALIZED', `no vault in ${dataDir}`, {
      hint: 'run `akc init` first, or start `akc daemon` on a terminal: it offers to create the vault',
    });
  }
  const keychain = keychainUnlockByDefault(process.platform);
  ctx.io.stderr.write(`No vault in ${dataDir} yet: creating one (Ctrl-C to cancel).\n`);
  const password = await ctx.input.newPassword('Choose a master password: ');
  const vault = Vault.open({ dataDir, keychain: new NapiKeychain(ctx.paths.keychainService) });
  try {
    await vault.init(password, { keychain });
    const kdfWarning = weakKdfWarning(vault.kdfParams);
    if (kdfWarning) ctx.io.stderr.write(kdfWarning);
  } catch (err) {
    password.fill(0);
    throw err;
  } finally {
    vault.close();
  }
  ctx.io.stderr.write(
    `Created a vault in ${dataDir}. ` +
      (keychain
        ? `Keychain unlock is on. ${keychainExposure(process.platform, platformKeychainName())}\n`
        : 'Keychain unlock is off: the master password unlocks the host at each start (see SECURITY.md).\n') +
      'Store a secret from another terminal: `akc secret set NAME`.\n',
  );
  return password;
}
