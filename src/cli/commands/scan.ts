/**
 * `akc scan PATH… [--git] [--json]`: finds stored secret values — every version, current,
 * previous and retired, raw and base64 / base64url / hex / URL-encoded — in files and,
 * with --git, in every blob reachable from any ref of the repository at each PATH.
 * Prints `path:line secret (vN, encoding)` (`commit:path:line …` for history), never a
 * value; exits 1 when anything is found, 0 when clean.
 *
 * Opens the vault directly (a human command: OS keychain or master password); no host
 * is needed. The values are compiled into one automaton and zeroed once it is built; the
 * automaton is zeroed at the end.
 */
import { flag, UsageError } from '../args.js';
import { openVault, unlockForRead, type CommandContext } from '../context.js';
import { writeJson } from '../io.js';
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
  commit?: string;
  blob?: string;
}

/** Every version of every secret, decrypted. The caller zeroes the values. */
async function loadTargets(ctx: CommandContext): Promise<ScanTarget[]> {
  const vault = await openVault(ctx);
  try {
    await unlockForRead(ctx, vault);
    const store = new SecretStore(vault);
    const targets: ScanTarget[] = [];
    for (const meta of store.list()) {
      for (const v of store.versions(meta.name)) {
        const revealed = store.reveal(meta.name, v.version);
        targets.push({ secret: meta.name, version: v.version, state: v.state, value: revealed.value });
      }
    }
    return targets;
  } finally {
    vault.close();
  }
}

export async function scan(ctx: CommandContext): Promise<number> {
  const paths = [...ctx.args.positionals, ...ctx.args.rest];
  if (paths.length === 0) throw new UsageError('usage: akc scan PATH… [--git] [--json]');
  const withGit = flag(ctx.args, 'git');

  const targets = await loadTargets(ctx);
  const patterns = new ScanPatterns(targets);
  for (const t of targets) t.value.fill(0);
  for (const s of patterns.skipped) ctx.note(`warning: ${s.secret} v${s.version} is too short to search for; skipped`);

  const findings: ReportedFinding[] = [];
  const print = (f: ReportedFinding): void => {
    findings.push(f);
    if (ctx.json) return;
    const where = f.commit ? `${f.commit.slice(0, 12)}:${f.path}:${f.line}` : `${f.path}:${f.line}`;
    ctx.io.stdout.write(`${where} ${f.secret} (v${f.version}, ${f.encoding})\n`);
  };
  const fileStats: FileScanStats = { files: 0, bytes: 0, skipped: [] };
  const gitStats: GitScanStats = { blobs: 0, bytes: 0 };
  const started = process.hrtime.bigint();
  const buffer = Buffer.allocUnsafe(READ_CHUNK_BYTES);
  const report = (f: Finding, path: string, extra: Partial<ReportedFinding> = {}): void =>
    print({ path, line: f.line, secret: f.secret, version: f.version, state: f.state, encoding: f.encoding, ...extra });
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
  } finally {
    buffer.fill(0);
    patterns.destroy();
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
