/**
 * Rotator specs (`akc secret policy NAME --rotator SPEC`):
 *
 *   generate[:length=N,charset=alnum|hex|base64url|ascii,prefix=P]   a random value we own
 *   command:PATH [ARGS…]    the user's program: current value on stdin, new value on stdout
 *   webhook:URL             a signed POST; the new value comes back, or later (202)
 *   manual                  a human types it (CLI prompt, --value-stdin, the app)
 */
import { randomInt } from 'node:crypto';
import path from 'node:path';
import { AkcError } from '../../shared/errors.js';

export type Charset = 'alnum' | 'hex' | 'base64url' | 'ascii';

export type RotatorSpec =
  | { kind: 'generate'; length: number; charset: Charset; prefix: string }
  | { kind: 'command'; path: string; args: string[] }
  | { kind: 'webhook'; url: URL }
  | { kind: 'manual' };

export const DEFAULT_GENERATE_LENGTH = 32;
const MIN_LENGTH = 8;
const MAX_LENGTH = 4096;
const MAX_SPEC = 2000;

const ALPHABETS: Record<Charset, string> = {
  alnum: 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789',
  hex: '0123456789abcdef',
  base64url: 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_',
  // Printable ASCII without the space.
  ascii: Array.from({ length: 94 }, (_, i) => String.fromCharCode(33 + i)).join(''),
};

function bad(message: string, hint?: string): AkcError {
  return new AkcError('INVALID_ARGUMENT', `invalid --rotator: ${message}`, {
    hint: hint ?? 'one of: generate[:length=N,charset=alnum|hex|base64url|ascii,prefix=P], command:PATH [ARGS…], webhook:URL, manual',
  });
}

export function parseRotator(spec: string): RotatorSpec {
  if (spec.length > MAX_SPEC) throw bad('too long');
  if (/[\0\r\n]/.test(spec)) throw bad('it must be one line');
  const colon = spec.indexOf(':');
  const kind = colon === -1 ? spec : spec.slice(0, colon);
  const rest = colon === -1 ? '' : spec.slice(colon + 1);
  switch (kind) {
    case 'manual':
      if (rest) throw bad('manual takes no options');
      return { kind: 'manual' };
    case 'generate':
      return parseGenerate(rest);
    case 'command':
      return parseCommand(rest);
    case 'webhook':
      return { kind: 'webhook', url: parseWebhookUrl(rest) };
    default:
      throw bad(`unknown kind ${JSON.stringify(kind)}`);
  }
}

function parseGenerate(rest: string): RotatorSpec {
  const out = { kind: 'generate' as const, length: DEFAULT_GENERATE_LENGTH, charset: 'alnum' as Charset, prefix: '' };
  if (!rest) return out;
  for (const part of rest.split(',')) {
    const eq = part.indexOf('=');
    const key = eq === -1 ? part : part.slice(0, eq);
    const value = eq === -1 ? '' : part.slice(eq + 1);
    if (key === 'length') {
      const n = Number(value);
      if (!/^\d+$/.test(value) || n < MIN_LENGTH || n > MAX_LENGTH)
        throw bad(`length must be an integer from ${MIN_LENGTH} to ${MAX_LENGTH}`);
      out.length = n;
    } else if (key === 'charset') {
      if (!Object.hasOwn(ALPHABETS, value)) throw bad(`charset must be one of ${Object.keys(ALPHABETS).join(', ')}`);
      out.charset = value as Charset;
    } else if (key === 'prefix') {
      if (!/^[A-Za-z0-9_.-]{0,32}$/.test(value)) throw bad('prefix may use letters, digits, _ . - (at most 32)');
      out.prefix = value;
    } else {
      throw bad(`unknown generate option ${JSON.stringify(key)}`);
    }
  }
  return out;
}

/** Splits on whitespace; single or double quotes keep spaces. No shell, no expansion. */
export function splitWords(text: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: string | null = null;
  for (const ch of text) {
    if (quote) {
      if (ch === quote) quote = null;
      else cur += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (quote) throw bad('unterminated quote');
  if (inWord) words.push(cur);
  return words;
}

function parseCommand(rest: string): RotatorSpec {
  const words = splitWords(rest);
  const [file, ...args] = words;
  if (!file) throw bad('command needs a PATH', 'e.g. --rotator "command:/home/me/bin/rotate-db-password --db prod"');
  if (!path.isAbsolute(file)) throw bad('the command PATH must be absolute (no shell, no PATH lookup)');
  return { kind: 'command', path: file, args };
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

export function parseWebhookUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw bad('webhook needs an absolute URL', 'e.g. --rotator webhook:https://rotator.internal.example/akc');
  }
  const loopback = LOOPBACK.has(url.hostname) || /^127\.\d+\.\d+\.\d+$/.test(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback))
    throw bad('webhook URLs must be https (plain http only to a loopback address): the response carries the new value');
  if (url.username || url.password) throw bad('put no credentials in the webhook URL; requests are signed');
  return url;
}

/** A description safe for the audit log and `secret show` (no query string, no arguments). */
export function describeRotator(spec: RotatorSpec): string {
  switch (spec.kind) {
    case 'generate':
      return `generate:length=${spec.length},charset=${spec.charset}${spec.prefix ? `,prefix=${spec.prefix}` : ''}`;
    case 'command':
      return `command:${spec.path}${spec.args.length ? ' …' : ''}`;
    case 'webhook':
      return `webhook:${spec.url.origin}${spec.url.pathname}`;
    case 'manual':
      return 'manual';
  }
}

/** A fresh random value (uniform over the charset, from the OS CSPRNG). The caller zeroes it. */
export function generateValue(spec: Extract<RotatorSpec, { kind: 'generate' }>): Buffer {
  const alphabet = ALPHABETS[spec.charset];
  const out = Buffer.alloc(spec.prefix.length + spec.length);
  out.write(spec.prefix, 0, 'latin1');
  for (let i = spec.prefix.length; i < out.length; i++) out[i] = alphabet.charCodeAt(randomInt(alphabet.length));
  return out;
}
