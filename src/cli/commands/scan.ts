/**
 * `akc scan PATH… [--git] [--json]`: finds stored secret values — every version, current,
 * previous and retired, in every form `akc run` redacts (raw, base64 / base64url / hex /
 * URL-encoded, JSON / shell / YAML / Python repr escaped, and each line of a multi-line
 * value on its own) — in files and, with --git, in every blob reachable from any ref of
 * the repository at each PATH. Prints `path:line secret (vN, encoding)` (`, line N of the
 * value` for one line of a multi-line value; `commit:path:line …` for history), never a
 * value; exits 1 when anything is found, 0 when clean.
 *
 * Opens the vault directly (a human command: OS keychain or master password); no host
 * is needed. The values are compiled into one automaton and zeroed once it is built; the
 * automaton is zeroed at the end. Every run is audited (`scan.run`, counts only).
 */
import { flag, UsageError } from '../args.js';
import { openVault, unlockForRead, type CommandContext } from '../context.js';
import fs from 'node:fs';
import { AkcError } from '../../shared/errors.js';
import { printError, writeJson } from '../io.js';
import { sanitizeLine } from '../../shared/sanitize.js';
import type { Vault } from '../../core/vault/vault.js';
import { SecretStore } from '../../core/vault/secrets.js';
import { ScanPatterns, type ScanTarget, type Finding } from '../../core/scan/scanner.js';
import { READ_CHUNK_BYTES, scanFile, walkFiles, type FileScanStats } from '../../core/scan/files.js';
import { scanGitHistory, type GitScanStats } from '../../core/scan/git.js';

interface ReportedFinding {
  path: string;
  line: number;
  secret: string;
  version: number;
  state: string;
  encoding: string;
  /** One line of a multi-line value was found: its number. */
  valueLine?: number;
  commit?: string;
  blob?: string;
}

/** Every version of every secret, decrypted from an unlocked vault. The caller zeroes the values. */
function loadTargets(vault: Vault): ScanTarget[] {
  const store = new SecretStore(vault);
  const targets: ScanTarget[] = [];
  for (const meta of store.list()) {
    for (const v of store.versions(meta.name)) {
      const revealed = store.reveal(meta.name, v.version);
      targets.push({ secret: meta.name, version: v.version, state: v.state, value: revealed.value });
    }
  }
  return targets;
}

/**
 * Scanning decrypts every value, so it is on the record like any other use: one
 * `scan.run` entry with counts and how the vault was opened — never a value, a file's
 * content, nor the paths scanned. It is written even when the scan fails half-way.
 */
function auditScan(vault: Vault, detail: Record<string, unknown>): void {
  vault.appendAudit({
    event: 'scan.run',
    decision: detail.completed ? 'completed' : 'failed',
    reason: `unlocked with the ${detail.unlock}`,
    detail,
  });
}

function isDanglingLink(p: string): boolean {
  try {
    return fs.lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

export async function scan(ctx: CommandContext): Promise<number> {
  const paths = [...ctx.args.positionals, ...ctx.args.rest];
  if (paths.length === 0) throw new UsageError('usage: akc scan PATH… [--git] [--json]');
  const withGit = flag(ctx.args, 'git');
  // A PATH that is not there is a mistake, not a clean result: exit 2 (as grep does for
  // trouble; 1 means "found"), before the vault is opened or a password asked.
  const missing = paths.find((p) => !fs.existsSync(p) && !isDanglingLink(p));
  if (missing !== undefined) {
    printError(
      ctx.io,
      new AkcError('NOT_FOUND', `cannot scan ${missing}: no such file or directory`, { hint: 'check the PATH; nothing was scanned' }),
    );
    return 2;
  }

  const vault = await openVault(ctx);
  let unlock: 'keychain' | 'password';
  let targets: ScanTarget[];
  try {
    unlock = await unlockForRead(ctx, vault);
    targets = loadTargets(vault);
  } catch (err) {
    vault.close();
    throw err;
  }
  const patterns = new ScanPatterns(targets);
  for (const t of targets) t.value.fill(0);
  for (const s of patterns.skipped) ctx.note(`warning: ${s.secret} v${s.version} is too short to search for; skipped`);

  const findings: ReportedFinding[] = [];
  const print = (f: ReportedFinding): void => {
    findings.push(f);
    if (ctx.json) return;
    const where = f.commit ? `${f.commit.slice(0, 12)}:${f.path}:${f.line}` : `${f.path}:${f.line}`;
    // File names in a scanned tree are anyone's choice: inert on the terminal.
    const part = f.valueLine === undefined ? '' : `, line ${f.valueLine} of the value`;
    ctx.io.stdout.write(`${sanitizeLine(where, 4096)} ${sanitizeLine(f.secret)} (v${f.version}, ${f.encoding}${part})\n`);
  };
  const fileStats: FileScanStats = { files: 0, bytes: 0, skipped: [] };
  const gitStats: GitScanStats = { blobs: 0, bytes: 0 };
  const started = process.hrtime.bigint();
  const buffer = Buffer.allocUnsafe(READ_CHUNK_BYTES);
  const report = (f: Finding, path: string, extra: Partial<ReportedFinding> = {}): void =>
    print({
      path,
      line: f.line,
      secret: f.secret,
      version: f.version,
      state: f.state,
      encoding: f.encoding,
      ...(f.valueLine === undefined ? {} : { valueLine: f.valueLine }),
      ...extra,
    });
  let completed = false;
  try {
    if (!patterns.empty) {
      for (const root of paths) {
        for (const file of walkFiles(root, fileStats)) scanFile(file, patterns, buffer, fileStats, (f) => report(f, f.path));
        if (withGit) {
          await scanGitHistory(root, patterns, gitStats, (f) =>
            report(f, f.path, { ...(f.commit ? { commit: f.commit } : {}), blob: f.blob }),
          );
        }
      }
    }
    completed = true;
  } finally {
    buffer.fill(0);
    patterns.destroy();
    try {
      auditScan(vault, {
        unlock,
        paths: paths.length,
        git: withGit,
        files: fileStats.files,
        blobs: gitStats.blobs,
        secretVersions: targets.length - patterns.skipped.length,
        hits: findings.length,
        secretsFound: new Set(findings.map((f) => f.secret)).size,
        completed,
      });
    } finally {
      vault.close();
    }
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const bytes = fileStats.bytes + gitStats.bytes;
  for (const s of fileStats.skipped) if (s.reason !== 'symbolic link (not followed)') ctx.note(`warning: skipped ${s.path}: ${s.reason}`);

  if (ctx.json) {
    writeJson(ctx.io, {
      findings,
      scanned: {
        files: fileStats.files,
        blobs: gitStats.blobs,
        bytes,
        seconds: Math.round(seconds * 1000) / 1000,
        secretVersions: targets.length - patterns.skipped.length,
      },
      skipped: fileStats.skipped,
    });
  } else {
    const what = `${fileStats.files} file${fileStats.files === 1 ? '' : 's'}${withGit ? ` and ${gitStats.blobs} git blob${gitStats.blobs === 1 ? '' : 's'}` : ''}`;
    const rate = seconds > 0 ? ` at ${(bytes / 1024 / 1024 / seconds).toFixed(0)} MiB/s` : '';
    if (patterns.empty) ctx.note('the vault holds no secret values to look for');
    ctx.note(
      findings.length === 0
        ? `no secrets found in ${what} (${formatBytes(bytes)}${rate})`
        : `found ${findings.length} occurrence${findings.length === 1 ? '' : 's'} of ${new Set(findings.map((f) => f.secret)).size} secret(s) in ${what} (${formatBytes(bytes)}${rate}); rotate them`,
    );
  }
  return findings.length > 0 ? 1 : 0;
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
