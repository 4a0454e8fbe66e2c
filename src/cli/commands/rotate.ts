/**
 * `akc rotate NAME [--value-stdin]`: rotates a secret now with its rotator (or the value
 * given), in one durable transaction; prints the new version number only, never a value.
 * Offline admin: opens the vault directly with the master password, so it works with or
 * without a running host (the host reads every change from the database).
 */
import { secretNameProblem } from '../../shared/secrets.js';
import { flag, UsageError } from '../args.js';
import { openVault, unlockForWrite, type CommandContext } from '../context.js';
import { writeJson } from '../io.js';
import { requireLifecycle } from '../../core/lifecycle/policy.js';
import { rotateSecret } from '../../core/lifecycle/rotation.js';

export async function rotate(ctx: CommandContext): Promise<number> {
  const [name, extra] = ctx.args.positionals;
  if (!name) throw new UsageError('missing secret NAME');
  if (extra !== undefined) {
    throw new UsageError('unexpected argument after NAME (values never come from the command line; use --value-stdin or the prompt)');
  }
  const problem = secretNameProblem(name);
  if (problem) throw new UsageError(`invalid secret name: ${problem}`);
  const vault = await openVault(ctx);
  try {
    requireLifecycle(vault.db, name); // NOT_FOUND before the password prompt
    const password = await unlockForWrite(ctx, vault);
    password.fill(0);
    const given = flag(ctx.args, 'value-stdin') ? await ctx.input.value(name) : undefined;
    try {
      const r = await rotateSecret(vault, name, {
        by: 'cli',
        ...(given ? { value: given } : {}),
        askValue: () => ctx.input.value(name),
      });
      if (r.kind === 'pending') {
        ctx.note(`the webhook receiver accepted the rotation of ${name} (202); the new value is awaited`);
        ctx.note(`hint: finish with \`akc rotate ${name} --value-stdin\``);
        if (ctx.json) writeJson(ctx.io, { name, pending: true, since: new Date(r.since).toISOString() });
        return 0;
      }
      if (ctx.json) {
        writeJson(ctx.io, { name, version: r.version, previous: r.previous, previousRetiresAt: new Date(r.retireAt).toISOString() });
      } else {
        ctx.io.stdout.write(`${r.version}\n`);
      }
      return 0;
    } finally {
      given?.fill(0);
    }
  } finally {
    vault.close();
  }
}
