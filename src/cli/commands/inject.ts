/**
 * `akc inject -i TEMPLATE [-o OUT] [--json|--yaml] [--purpose P]`: fills
 * `{{ akc://NAME }}` references from the host, all under one approval (`secret.getMany`).
 *
 * Parsing is strict: every `{{` that opens an akc reference must be exactly
 * `{{ akc://NAME }}` (spaces optional), and a bare `akc://` outside one is refused too, so
 * a typo never leaves a placeholder in a config. Unknown names are reported with their
 * line before anything is asked. `--json` / `--yaml` escape each value as the content of
 * a JSON string / a YAML double-quoted scalar (the template supplies the quotes).
 * With `-o`, the file is written 0600 through a fresh temporary file renamed over OUT
 * (a symlink at OUT is replaced, never followed).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { AkcError } from '../../shared/errors.js';
import { secretNameProblem } from '../../shared/secrets.js';
import { MAX_GET_MANY_NAMES } from '../../shared/protocol.js';
import { flag, option, UsageError } from '../args.js';
import type { CommandContext } from '../context.js';
import { YAML_NAMED } from '../../core/redact/escapes.js';
import { connectCli, fetchSecrets } from './run.js';

/** Templates larger than this are refused (a config file, not a data set). */
export const MAX_TEMPLATE_BYTES = 4 * 1024 * 1024;

export type Segment = { text: string } | { ref: string; line: number };

export class TemplateError extends AkcError {
  constructor(line: number, problem: string) {
    super('INVALID_ARGUMENT', `template line ${line}: ${problem}`);
  }
}

/** Where a reference starts: `{{ akc:` (the start of one, well-formed or not) or a bare `akc://`. */
const START = /\{\{\s*akc:|akc:\/\//gi;
const REFERENCE = /^\{\{[ \t]*akc:\/\/([^\s{}]*)[ \t]*\}\}/i;

/** Splits a template into text and references; throws TemplateError naming the line. */
export function parseTemplate(template: string): Segment[] {
  const segments: Segment[] = [];
  let text = '';
  let line = 1;
  for (let from = 0; from < template.length; line++) {
    const nl = template.indexOf('\n', from);
    const end = nl === -1 ? template.length : nl + 1;
    const content = template.slice(from, end);
    let at = 0;
    START.lastIndex = 0;
    for (let m = START.exec(content); m !== null; m = START.exec(content)) {
      if (!m[0].startsWith('{{')) throw new TemplateError(line, 'akc:// reference outside {{ }}');
      const ref = REFERENCE.exec(content.slice(m.index));
      if (!ref) throw new TemplateError(line, 'malformed reference (expected {{ akc://NAME }})');
      const problem = secretNameProblem(ref[1]!);
      if (problem !== null) throw new TemplateError(line, `malformed reference: ${problem}`);
      text += content.slice(at, m.index);
      if (text) segments.push({ text });
      text = '';
      segments.push({ ref: ref[1]!, line });
      at = m.index + ref[0].length;
      START.lastIndex = at;
    }
    text += content.slice(at);
    from = end;
  }
  if (text) segments.push({ text });
  return segments;
}

/** The value as the content of a JSON string (no surrounding quotes). */
export function jsonEscape(value: string): string {
  return JSON.stringify(value)
    .slice(1, -1)
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** The value as the body of a YAML double-quoted scalar (YAML 1.2 escapes; no quotes). */
export function yamlEscape(value: string): string {
  let out = '';
  for (const ch of value) {
    const c = ch.codePointAt(0)!;
    const named = YAML_NAMED[c];
    if (named !== undefined) out += named;
    else if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) out += `\\x${c.toString(16).toUpperCase().padStart(2, '0')}`;
    else if ((c >= 0xd800 && c <= 0xdfff) || c === 0xfeff || c === 0xfffe || c === 0xffff) {
      out += `\\u${c.toString(16).toUpperCase().padStart(4, '0')}`;
    } else out += ch;
  }
  return out;
}

export async function inject(ctx: CommandContext): Promise<void> {
  if (ctx.args.positionals.length > 0 || ctx.args.restGiven) throw new UsageError('usage: akc inject -i TEMPLATE [-o OUT] [--json|--yaml]');
  const input = option(ctx.args, 'input');
  if (input === undefined) throw new UsageError('give the template with -i TEMPLATE (or -i - for stdin)');
  const output = option(ctx.args, 'output');
  const json = ctx.json;
  const yaml = flag(ctx.args, 'yaml');
  if (json && yaml) throw new UsageError('choose one of --json and --yaml');
  const escape = json ? jsonEscape : yaml ? yamlEscape : (v: string) => v;

  const template = await readTemplate(ctx, input);
  const segments = parseTemplate(template);
  const refs = segments.filter((s): s is { ref: string; line: number } => 'ref' in s);
  const names = [...new Set(refs.map((r) => r.ref))];
  if (names.length > MAX_GET_MANY_NAMES)
    throw new AkcError('INVALID_ARGUMENT', `the template names more than ${MAX_GET_MANY_NAMES} secrets`);

  let values = new Map<string, string>();
  if (names.length > 0) {
    // Unknown names are reported with their line before anything is asked of a human.
    const client = await connectCli(ctx);
    let known: Set<string>;
    try {
      known = new Set((await client.listSecrets()).map((s) => s.name));
    } finally {
      await client.close();
    }
    for (const r of refs) if (!known.has(r.ref)) throw new TemplateError(r.line, `unknown secret ${r.ref}`);
    const secrets = await fetchSecrets(ctx, names, option(ctx.args, 'purpose'));
    values = new Map(secrets.map((s) => [s.name, s.value]));
  }
  const filled = segments.map((s) => ('text' in s ? s.text : escape(values.get(s.ref)!))).join('');
  const bytes = Buffer.from(filled, 'utf8');
  try {
    if (output === undefined || output === '-') {
      await new Promise<void>((resolve, reject) => ctx.io.stdout.write(bytes, (err) => (err ? reject(err) : resolve())));
    } else {
      writePrivateFile(output, bytes);
      if (names.length > 0) {
        ctx.note(
          `warning: ${output} now holds ${names.length} secret value${names.length === 1 ? '' : 's'} in plain text on disk (mode 0600); delete it when done`,
        );
      }
    }
  } finally {
    bytes.fill(0);
  }
}

async function readTemplate(ctx: CommandContext, input: string): Promise<string> {
  let data: Buffer;
  if (input === '-') {
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of ctx.io.stdin as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (total > MAX_TEMPLATE_BYTES) throw new AkcError('INVALID_ARGUMENT', `the template is larger than ${MAX_TEMPLATE_BYTES} bytes`);
      chunks.push(chunk);
    }
    data = Buffer.concat(chunks);
  } else {
    try {
      const st = fs.statSync(input);
      if (!st.isFile()) throw new AkcError('INVALID_ARGUMENT', `${input} is not a regular file`);
      if (st.size > MAX_TEMPLATE_BYTES) throw new AkcError('INVALID_ARGUMENT', `the template is larger than ${MAX_TEMPLATE_BYTES} bytes`);
      data = fs.readFileSync(input);
    } catch (err) {
      if (err instanceof AkcError) throw err;
      throw new AkcError('IO', `failed to read the template ${input}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(data);
  } catch {
    throw new AkcError('INVALID_ARGUMENT', 'the template is not valid UTF-8');
  }
}

/**
 * Writes `data` to `file` with mode 0600: into a new temporary file beside it (O_EXCL,
 * O_NOFOLLOW), fsynced, then renamed over `file` (so a symlink there is replaced, not
 * followed, and readers never see a half-written file).
 */
export function writePrivateFile(file: string, data: Buffer): void {
  const dir = path.dirname(path.resolve(file));
  const tmp = path.join(dir, `.${path.basename(file)}.akc-${randomBytes(6).toString('hex')}.tmp`);
  const flags = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | (fs.constants.O_NOFOLLOW ?? 0);
  let fd: number;
  try {
    fd = fs.openSync(tmp, flags, 0o600);
  } catch (err) {
    throw new AkcError('IO', `failed to write ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    fs.fchmodSync(fd, 0o600);
    fs.writeSync(fd, data);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(tmp, file);
  } catch (err) {
    try {
      fs.closeSync(fd);
    } catch {
      // already closed
    }
    fs.rmSync(tmp, { force: true });
    throw new AkcError('IO', `failed to write ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}
