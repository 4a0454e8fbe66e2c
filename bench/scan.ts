/**
 * Leak-scan throughput: the real `akc scan` CLI over a generated source-like tree (about
 * 200 MiB by default; AKC_BENCH_SCAN_MIB to change), first as files, then with --git on
 * the same tree committed to a repository (every blob streamed through git cat-file).
 * Reports bytes/s as `akc scan --json` measures it (walking, reading and matching; the
 * vault unlock is excluded), warm page cache, best of 3.
 *
 *   npx tsc -b tsconfig.test.json && node dist/bench/scan.js
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const AKC_BIN = path.join(ROOT, 'bin/akc.js');
const PASSWORD = 'bench: correct horse battery staple';
const TOTAL_MIB = Number(process.env.AKC_BENCH_SCAN_MIB ?? 200);
const FILE_KIB = 128;
const SECRETS = 25;
const RUNS = 3;

const base = fs.mkdtempSync(path.join(os.tmpdir(), 'akc-bench-scan-'));
const env: NodeJS.ProcessEnv = {
  ...process.env,
  AKC_HOME: path.join(base, 'home'),
  AKC_SOCKET: path.join(base, 'agent.sock'),
  AKC_KEYCHAIN_SERVICE: `akc-bench-scan-${path.basename(base)}`,
  // The KDF is not what this measures; the scan's own timer excludes the unlock anyway.
  AKC_DANGEROUS_TEST_WEAK_KDF: '1',
  GIT_AUTHOR_NAME: 'bench',
  GIT_AUTHOR_EMAIL: 'bench@example.com',
  GIT_COMMITTER_NAME: 'bench',
  GIT_COMMITTER_EMAIL: 'bench@example.com',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_CONFIG_NOSYSTEM: '1',
};

function akc(args: string[], input: string): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [AKC_BIN, ...args], { env, input, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function must(r: { code: number | null; stderr: string }, what: string): void {
  if (r.code !== 0) throw new Error(`${what} failed: ${r.stderr}`);
}

function git(cwd: string, args: string[]): void {
  const r = spawnSync('git', args, { cwd, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`git ${args[0]} failed: ${r.stderr}`);
}

const WORDS =
  'const let function return import export from default class interface extends implements string number boolean async await if else for while switch case break continue new this null undefined true false try catch finally throw value token key config options request response error result data items index length push map filter reduce'.split(
    ' ',
  );

/** About `bytes` of source-like text: identifiers, literals, some base64 and hex. */
function sourceLike(bytes: number): Buffer {
  const parts: string[] = [];
  let n = 0;
  while (n < bytes) {
    let line = '  ';
    const words = 4 + Math.floor(Math.random() * 10);
    for (let i = 0; i < words; i++) line += WORDS[Math.floor(Math.random() * WORDS.length)] + (i % 3 === 2 ? '(' : ' ');
    if (Math.random() < 0.05) line += ` "${randomBytes(24).toString('base64')}"`;
    if (Math.random() < 0.03) line += ` 0x${randomBytes(16).toString('hex')}`;
    line += ';\n';
    parts.push(line);
    n += line.length;
  }
  return Buffer.from(parts.join('')).subarray(0, bytes);
}

function main(): void {
  must(akc(['init', '--password-stdin', '--no-keychain'], `${PASSWORD}\n`), 'akc init');
  const values: string[] = [];
  for (let i = 0; i < SECRETS; i++) {
    const value = `sk_${randomBytes(18).toString('base64url')}`;
    values.push(value);
    must(akc(['secret', 'set', `BENCH_${i}`, '--password-stdin', '--value-stdin'], `${PASSWORD}\n${value}`), 'secret set');
    if (i < 5) {
      // A second version: the first stays in history and is searched too.
      must(
        akc(['secret', 'set', `BENCH_${i}`, '--new-version', '--password-stdin', '--value-stdin'], `${PASSWORD}\n${value}-v2`),
        'secret set v2',
      );
    }
  }

  const tree = path.join(base, 'tree');
  const files = Math.ceil((TOTAL_MIB * 1024) / FILE_KIB);
  const template = sourceLike(FILE_KIB * 1024);
  for (let i = 0; i < files; i++) {
    const dir = path.join(tree, `pkg${Math.floor(i / 100)}`, `mod${Math.floor(i / 10) % 10}`);
    fs.mkdirSync(dir, { recursive: true });
    // Rotate the template so files differ (distinct git blobs).
    const cut = (i * 7919) % template.length;
    fs.writeFileSync(
      path.join(dir, `file${i}.ts`),
      Buffer.concat([template.subarray(cut), template.subarray(0, cut), Buffer.from(`// ${i}\n`)]),
    );
  }
  // Three planted leaks: raw, base64, hex.
  fs.appendFileSync(path.join(tree, 'pkg0/mod0/file0.ts'), `const key = "${values[3]}";\n`);
  fs.appendFileSync(path.join(tree, 'pkg1/mod5/file150.ts'), `// ${Buffer.from(values[7]!).toString('base64')}\n`);
  fs.appendFileSync(path.join(tree, 'pkg1/mod9/file199.ts'), `// ${Buffer.from(values[11]!).toString('hex')}\n`);

  const measure = (args: string[]): { seconds: number; bytes: number; files: number; blobs: number; findings: number } => {
    let best: { seconds: number; bytes: number; files: number; blobs: number; findings: number } | null = null;
    for (let run = 0; run < RUNS; run++) {
      const r = akc(['scan', ...args, '--json', '--password-stdin'], `${PASSWORD}\n`);
      if (r.code !== 1) throw new Error(`akc scan exited ${r.code} (expected 1: leaks were planted): ${r.stderr}`);
      const out = JSON.parse(r.stdout) as {
        findings: unknown[];
        scanned: { seconds: number; bytes: number; files: number; blobs: number };
      };
      const m = { ...out.scanned, findings: out.findings.length };
      if (!best || m.seconds < best.seconds) best = m;
    }
    return best!;
  };
  const mibps = (bytes: number, seconds: number): string => `${(bytes / 1024 / 1024 / seconds).toFixed(0)} MiB/s`;

  const filesOnly = measure([tree]);
  git(tree, ['init', '-q']);
  git(tree, ['add', '-A']);
  git(tree, ['commit', '-qm', 'bench']);
  const withGit = measure([tree, '--git']);
  const gitBytes = withGit.bytes - filesOnly.bytes;
  const gitSeconds = withGit.seconds - filesOnly.seconds;

  console.log(
    `akc scan throughput (${SECRETS} secrets, ${SECRETS + 5} versions; ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version})`,
  );
  console.log(
    `  files: ${filesOnly.files} files, ${(filesOnly.bytes / 1024 / 1024).toFixed(0)} MiB in ${filesOnly.seconds.toFixed(2)} s = ${mibps(filesOnly.bytes, filesOnly.seconds)} (${filesOnly.findings} findings)`,
  );
  console.log(
    `  --git: ${withGit.blobs} blobs, ${(gitBytes / 1024 / 1024).toFixed(0)} MiB in ${gitSeconds.toFixed(2)} s = ${mibps(gitBytes, gitSeconds)} (files + history: ${mibps(withGit.bytes, withGit.seconds)}, ${withGit.findings} findings)`,
  );
}

try {
  main();
} finally {
  fs.rmSync(base, { recursive: true, force: true });
}
