/**
 * `akc run --env-file FILE`: a dotenv file whose values may be `akc://SECRET_NAME`
 * references, as `op run --env-file` users write them (`OPENAI_API_KEY=akc://OPENAI_API_KEY`).
 * A reference becomes a secret of the run (one approval with the rest, redacted in the
 * output); every other line is passed to the child literally. Blank lines and `#` comments
 * are skipped, `export KEY=…` is accepted, and a value in single or double quotes is taken
 * without them (double quotes understand \n, \t, \" and \\). Errors name FILE:LINE and never
 * quote a line: a literal value may be a secret of its own.
 */
import fs from 'node:fs';
import { secretNameProblem } from '../shared/secrets.js';
import { UsageError } from './args.js';

export const REFERENCE_PREFIX = 'akc://';
/** An env file is configuration: anything larger is a mistake (a log, a binary). */
const MAX_ENV_FILE_BYTES = 1024 * 1024;
const KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface EnvFileEntries {
  /** `KEY=akc://NAME` lines, in file order. */
  references: { variable: string; secret: string; where: string }[];
  /** Every other `KEY=value`, passed to the child as is. */
  literals: Map<string, string>;
}

function unquote(raw: string, where: string): string {
  const v = raw.trim();
  const q = v[0];
  if (q !== '"' && q !== "'") {
    // Unquoted: a ` #` starts a comment, as dotenv reads it.
    const hash = v.search(/\s#/);
    return (hash === -1 ? v : v.slice(0, hash)).trimEnd();
  }
  const end = v.lastIndexOf(q);
  if (end === 0) throw new UsageError(`${where}: unterminated ${q === '"' ? 'double' : 'single'} quote`);
  const rest = v.slice(end + 1).trim();
  if (rest !== '' && !rest.startsWith('#')) throw new UsageError(`${where}: unexpected text after the closing quote`);
  const body = v.slice(1, end);
  if (q === "'") return body;
  return body.replace(/\\([nrt"\\])/g, (_, c: string) => ({ n: '\n', r: '\r', t: '\t', '"': '"', '\\': '\\' })[c]!);
}

/** Parses the text of one env file (`name` is how errors refer to it). */
export function parseEnvFile(text: string, name: string): EnvFileEntries {
  const out: EnvFileEntries = { references: [], literals: new Map() };
  const seen = new Set<string>();
  text.split(/\r?\n/).forEach((line, i) => {
    const where = `${name}:${i + 1}`;
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const body = trimmed.startsWith('export ') ? trimmed.slice('export '.length).trimStart() : trimmed;
    const eq = body.indexOf('=');
    if (eq <= 0) throw new UsageError(`${where}: expected KEY=VALUE`);
    const variable = body.slice(0, eq).trim();
    if (!KEY.test(variable)) throw new UsageError(`${where}: not a variable name before =`);
    if (seen.has(variable)) throw new UsageError(`${where}: ${variable} is set twice`);
    seen.add(variable);
    const value = unquote(body.slice(eq + 1), where);
    if (value.startsWith(REFERENCE_PREFIX)) {
      const secret = value.slice(REFERENCE_PREFIX.length);
      const problem = secretNameProblem(secret);
      if (problem !== null) throw new UsageError(`${where}: ${variable}=akc://…: ${problem}`);
      out.references.push({ variable, secret, where });
    } else {
      out.literals.set(variable, value);
    }
  });
  return out;
}

/** Reads and parses every --env-file in order; a variable set in two files is an error. */
export function readEnvFiles(files: readonly string[]): EnvFileEntries {
  const all: EnvFileEntries = { references: [], literals: new Map() };
  const from = new Map<string, string>();
  for (const file of files) {
    let text: string;
    try {
      const st = fs.statSync(file);
      if (!st.isFile()) throw new UsageError(`--env-file ${file}: not a regular file`);
      if (st.size > MAX_ENV_FILE_BYTES) throw new UsageError(`--env-file ${file}: larger than ${MAX_ENV_FILE_BYTES} bytes`);
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      if (err instanceof UsageError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      throw new UsageError(
        `--env-file ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : 'cannot be read'}`,
      );
    }
    const parsed = parseEnvFile(text, file);
    for (const variable of [...parsed.literals.keys(), ...parsed.references.map((r) => r.variable)]) {
      const earlier = from.get(variable);
      if (earlier !== undefined) throw new UsageError(`${variable} is set in both ${earlier} and ${file}`);
      from.set(variable, file);
    }
    all.references.push(...parsed.references);
    for (const [k, v] of parsed.literals) all.literals.set(k, v);
  }
  return all;
}
