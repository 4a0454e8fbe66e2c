/** Policy as code: `akc policy export` and `akc policy import FILE`. */
import fs from 'node:fs';
import path from 'node:path';
import { AkcError, describeCause } from '../../shared/errors.js';
import { flag, option, UsageError } from '../args.js';
import type { CommandContext } from '../context.js';
import { writeJson } from '../io.js';
import {
  applyPolicy,
  buildPolicy,
  checkReferences,
  formatPolicy,
  MAX_POLICY_BYTES,
  parsePolicy,
  preparePolicy,
  type ImportSummary,
  type PolicyDocument,
  type PolicyFormat,
} from '../../core/policy/policy-file.js';
import { adminChange, adminRead, positionals } from './agent.js';

export async function exportPolicy(ctx: CommandContext): Promise<void> {
  positionals(ctx, []);
  const format = option(ctx.args, 'format') ?? (ctx.json ? 'json' : 'yaml');
  if (format !== 'yaml' && format !== 'json') throw new UsageError(`unknown --format ${JSON.stringify(format)}: use yaml or json`);
  // Hardened mode: the host formats it with the same functions (service-admin.ts).
  const text = ctx.paths.service
    ? await (await import('./service-admin.js')).policyExport(ctx, format)
    : await adminRead(ctx, (admin) => formatPolicy(buildPolicy(admin.vault), format as PolicyFormat));
  ctx.io.stdout.write(text);
}

function readPolicyFile(file: string): string {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : describeCause(cause);
    throw new AkcError(code === 'ENOENT' ? 'NOT_FOUND' : 'IO', `failed to read ${file}: ${why}`, { cause });
  }
  if (!st.isFile()) throw new AkcError('INVALID_ARGUMENT', `failed to read ${file}: not a regular file`);
  if (st.size > MAX_POLICY_BYTES) throw new AkcError('INVALID_ARGUMENT', `failed to read ${file}: larger than ${MAX_POLICY_BYTES} bytes`);
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (cause) {
    throw new AkcError('IO', `failed to read ${file}: ${describeCause(cause)}`, { cause });
  }
}

export async function importPolicy(ctx: CommandContext): Promise<void> {
  const [file] = positionals(ctx, ['policy FILE']);
  const replace = flag(ctx.args, 'replace');
  const doc = parsePolicy(readPolicyFile(file!), file!);
  // Hardened mode: the host prepares (resolves, hashes) and applies it (service-admin.ts).
  const summary: ImportSummary = ctx.paths.service
    ? await (await import('./service-admin.js')).policyImport(ctx, doc, path.basename(file!), replace)
    : await importHere(ctx, doc, replace, path.basename(file!));
  if (ctx.json) return writeJson(ctx.io, { imported: true, replace, ...summary });
  const a = summary.agents;
  const g = summary.grants;
  const changed = a.added + a.updated + g.added + g.replaced + g.revoked;
  ctx.io.stdout.write(
    [
      changed === 0 ? 'Policy already up to date; nothing changed.' : 'Imported the policy.',
      `agents  ${a.added} added, ${a.updated} updated, ${a.unchanged} unchanged`,
      `grants  ${g.added} added, ${g.replaced} replaced, ${g.unchanged} unchanged${replace ? `, ${g.revoked} revoked (not in the file)` : ''}${
        g.skippedExpired ? `, ${g.skippedExpired} skipped (already expired)` : ''
      }`,
      '',
    ].join('\n'),
  );
}

/** Offline: validate everything (paths, hashes, references) before asking for the password. */
async function importHere(ctx: CommandContext, doc: PolicyDocument, replace: boolean, source: string): Promise<ImportSummary> {
  const prepared = await preparePolicy(doc);
  return adminChange(
    ctx,
    (admin) => {
      checkReferences(admin.vault, prepared);
      return undefined;
    },
    (admin) => applyPolicy(admin.vault, prepared, { replace, by: 'cli', source }),
  );
}
