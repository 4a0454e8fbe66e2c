/**
 * `akc secret reveal NAME [--version N] [--clipboard] [--force] [--json]`: the human-side
 * read. Needs the master password every time (never the OS keychain, which any program
 * running as this user can read), and writes `secret.reveal` to the audit log before the
 * value leaves the vault. The value goes to a terminal only: piped or redirected stdout
 * needs --force (or --json), so a stray `akc secret reveal K > file` does not drop a value
 * on disk. --clipboard copies it instead and clears the clipboard after 30 s.
 */
import { AkcError } from '../../shared/errors.js';
import { flag, option, UsageError } from '../args.js';
import { openVault, unlockForWrite, type CommandContext } from '../context.js';
import { writeJson } from '../io.js';
import { secretNameProblem } from '../../shared/secrets.js';
import { SecretStore } from '../../core/vault/secrets.js';
import { copyToClipboard, findClipboardTool, noClipboardError, scheduleClear } from '../clipboard.js';

export const CLIPBOARD_CLEAR_MS = 30_000;

function versionOption(ctx: CommandContext): number | undefined {
  const text = option(ctx.args, 'version');
  if (text === undefined) return undefined;
  if (!/^[1-9]\d{0,8}$/.test(text))
    throw new UsageError(`invalid --version ${JSON.stringify(text)}: expected a version number (see \`akc secret show NAME\`)`);
  return Number(text);
}

export async function reveal(ctx: CommandContext): Promise<void> {
  const [name, extra] = ctx.args.positionals;
  if (!name) throw new UsageError('missing secret NAME');
  if (extra !== undefined) throw new UsageError(`unexpected argument ${JSON.stringify(extra)}`);
  const problem = secretNameProblem(name);
  if (problem) throw new UsageError(`invalid secret name: ${problem}`);
  const version = versionOption(ctx);
  const clipboard = flag(ctx.args, 'clipboard');
  if (clipboard && ctx.json) throw new UsageError('--clipboard and --json: choose where the value goes');
  const toTerminal = (ctx.io.stdout as { isTTY?: boolean }).isTTY === true;
  // Checked before the password is asked: where the value would go.
  if (!clipboard && !toTerminal && !ctx.json && !flag(ctx.args, 'force')) {
    throw new AkcError('INVALID_ARGUMENT', 'refusing to write a secret value to a pipe or file', {
      hint: 'run it on a terminal, copy it with --clipboard, or pass --force (or --json) to write it anyway',
    });
  }
  const tool = clipboard ? findClipboardTool() : null;
  if (clipboard && !tool) throw noClipboardError();

  const vault = await openVault(ctx);
  try {
    const store = new SecretStore(vault);
    store.get(name); // NOT_FOUND before the password prompt
    (await unlockForWrite(ctx, vault)).fill(0);
    const revealed = store.reveal(name, version);
    try {
      const where = tool
        ? `copied to the clipboard (${tool.name})`
        : ctx.json
          ? 'printed as JSON'
          : toTerminal
            ? 'shown on the terminal'
            : 'written to stdout (--force)';
      // On the record before the value leaves the vault.
      vault.appendAudit({ event: 'secret.reveal', agent: 'cli', secret: name, version: revealed.version, reason: `${where} by cli` });
      if (tool) {
        await copyToClipboard(tool, revealed.value);
        scheduleClear(tool, revealed.value, CLIPBOARD_CLEAR_MS);
        ctx.note(`copied ${name} (version ${revealed.version}) to the clipboard; it is cleared in ${CLIPBOARD_CLEAR_MS / 1000} s`);
        return;
      }
      if (ctx.json) return writeJson(ctx.io, { name, version: revealed.version, value: revealed.value.toString('utf8') });
      // A terminal gets a line end; a pipe (--force) gets the value byte for byte. Waited
      // for: a queued write still points at the buffer that is zeroed below.
      const out = toTerminal ? Buffer.concat([revealed.value, Buffer.from('\n')]) : revealed.value;
      try {
        await new Promise<void>((resolve, reject) => ctx.io.stdout.write(out, (err) => (err ? reject(err) : resolve())));
      } finally {
        out.fill(0);
      }
    } finally {
      revealed.value.fill(0);
    }
  } finally {
    vault.close();
  }
}
