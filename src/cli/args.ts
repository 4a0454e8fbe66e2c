/**
 * A small, strict argument parser: known flags only, values from the next word or
 * `--flag=value`, `--` ends option parsing. Unknown flags are usage errors.
 */
import { AkcError } from '../shared/errors.js';
import { didYouMean } from './suggest.js';

export interface FlagSpec {
  /** Takes a value (`--type api_key`). */
  value?: boolean;
  /** May be given more than once (values collected in order). */
  repeat?: boolean;
  /** Short alias without the dash (`o` for `-o`). */
  short?: string;
}

export type FlagSpecs = Record<string, FlagSpec>;

export interface ParsedArgs {
  flags: Map<string, string[] | true>;
  positionals: string[];
  /** Words after `--`, untouched. */
  rest: string[];
  restGiven: boolean;
}

export class UsageError extends AkcError {
  constructor(message: string, hint?: string) {
    super('INVALID_ARGUMENT', message, hint === undefined ? {} : { hint });
  }
}

export function parseArgs(argv: readonly string[], specs: FlagSpecs): ParsedArgs {
  const flags = new Map<string, string[] | true>();
  const positionals: string[] = [];
  const byShort = new Map(Object.entries(specs).flatMap(([name, s]) => (s.short ? [[s.short, name] as const] : [])));
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if (word === '--') return { flags, positionals, rest: argv.slice(i + 1), restGiven: true };
    let name: string | undefined;
    let inline: string | undefined;
    if (word.startsWith('--') && word.length > 2) {
      const eq = word.indexOf('=');
      name = eq === -1 ? word.slice(2) : word.slice(2, eq);
      inline = eq === -1 ? undefined : word.slice(eq + 1);
    } else if (word.startsWith('-') && word.length === 2 && word !== '-') {
      name = byShort.get(word.slice(1));
      if (!name) throw new UsageError(`unknown option ${word}`);
    } else {
      positionals.push(word);
      continue;
    }
    const spec = specs[name];
    if (!spec) {
      throw new UsageError(`unknown option --${name}`, didYouMean(name, Object.keys(specs), (n) => `--${n}`) ?? undefined);
    }
    if (!spec.value) {
      if (inline !== undefined) throw new UsageError(`option --${name} takes no value`);
      flags.set(name, true);
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) throw new UsageError(`option --${name} needs a value`);
    const prev = flags.get(name);
    if (prev !== undefined && !spec.repeat) throw new UsageError(`option --${name} given twice`);
    flags.set(name, [...(Array.isArray(prev) ? prev : []), value]);
  }
  return { flags, positionals, rest: [], restGiven: false };
}

/**
 * The index of the first word that is neither an option nor an option's value (-1 if
 * none, or if `--` comes first). Unknown options count as options without a value.
 */
export function firstPositionalIndex(argv: readonly string[], specs: FlagSpecs): number {
  const byShort = new Map(Object.entries(specs).flatMap(([name, s]) => (s.short ? [[s.short, name] as const] : [])));
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if (word === '--') return -1;
    if (word.startsWith('--') && word.length > 2) {
      if (!word.includes('=') && specs[word.slice(2)]?.value) i++;
    } else if (word.startsWith('-') && word.length === 2 && word !== '-') {
      const name = byShort.get(word.slice(1));
      if (name && specs[name]?.value) i++;
    } else {
      return i;
    }
  }
  return -1;
}

/** A word as a POSIX shell would need it typed (for hints that show a command line). */
export function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

export function flag(args: ParsedArgs, name: string): boolean {
  return args.flags.get(name) === true;
}

export function option(args: ParsedArgs, name: string): string | undefined {
  const v = args.flags.get(name);
  return Array.isArray(v) ? v[v.length - 1] : undefined;
}

export function options(args: ParsedArgs, name: string): string[] {
  const v = args.flags.get(name);
  return Array.isArray(v) ? v : [];
}
