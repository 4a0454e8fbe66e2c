/**
 * Registered agents: a name bound to matching rules on the real process (executable or
 * script path, optionally its SHA-256, argv and cwd globs). A client's `hello` hint only
 * chooses among agents whose rules match.
 *
 * Rows carry a MAC (src/core/integrity): while unlocked, an agent whose MAC is missing or
 * wrong does not match anything (and is alerted); revoking clears the MAC. While locked
 * rows cannot be verified: GrantStore.consume re-checks the agent before any release.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import type { Database, Statement } from 'better-sqlite3';
import { AkcError } from '../../shared/errors.js';
import { hashExecutable } from '../identity/exe-hash.js';
import type { PeerIdentity } from '../identity/index.js';
import { AGENTS, checkRow, signatureFor } from '../integrity/rows.js';
import { cachedStatement } from '../store/database.js';
import { globMatch } from './glob.js';
import { akcSubcommand } from './requester.js';

export const AGENT_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;

export interface AgentRecord {
  id: string;
  name: string;
  exePath: string;
  exeSha256: string | null;
  argPattern: string | null;
  cwdPattern: string | null;
  createdAt: number;
  revokedAt: number | null;
}

export interface AgentInput {
  name: string;
  exePath: string;
  /** 'auto' hashes the file now; a hex digest pins it; undefined does not pin. */
  sha256?: string;
  argPattern?: string;
  cwdPattern?: string;
}

interface AgentRow {
  id: string;
  name: string;
  exe_path: string;
  exe_sha256: string | null;
  arg_pattern: string | null;
  cwd_pattern: string | null;
  created_at: number;
  revoked_at: number | null;
  row_mac?: Buffer | null;
}

function toRecord(r: AgentRow): AgentRecord {
  return {
    id: r.id,
    name: r.name,
    exePath: r.exe_path,
    exeSha256: r.exe_sha256,
    argPattern: r.arg_pattern,
    cwdPattern: r.cwd_pattern,
    createdAt: r.created_at,
    revokedAt: r.revoked_at,
  };
}

/** Resolves and validates an agent definition (hashing the file for `--sha256 auto`). */
export async function prepareAgent(input: AgentInput): Promise<Omit<AgentRecord, 'id' | 'createdAt' | 'revokedAt'>> {
  if (!AGENT_NAME_PATTERN.test(input.name)) {
    throw new AkcError('INVALID_ARGUMENT', 'invalid agent name: use 1-64 characters A-Z a-z 0-9 _ . - starting with a letter or digit');
  }
  let exePath: string;
  try {
    exePath = fs.realpathSync(input.exePath);
  } catch (cause) {
    throw new AkcError('INVALID_ARGUMENT', `failed to find the executable ${input.exePath}`, { cause });
  }
  let exeSha256: string | null = null;
  if (input.sha256 === 'auto') exeSha256 = await hashExecutable(exePath);
  else if (input.sha256 !== undefined) {
    const hex = input.sha256.toLowerCase();
    if (!SHA256_HEX.test(hex)) throw new AkcError('INVALID_ARGUMENT', 'invalid --sha256: expected 64 hex digits or "auto"');
    exeSha256 = hex;
  }
  return { name: input.name, exePath, exeSha256, argPattern: input.argPattern ?? null, cwdPattern: input.cwdPattern ?? null };
}

/** Writes to `agents` per connection, by any AgentRegistry (the only code that writes the table). */
const localWrites = new WeakMap<Database, number>();

function noteWrite(db: Database): void {
  localWrites.set(db, (localWrites.get(db) ?? 0) + 1);
}

/** What match() reads besides the agents table. */
export interface MatchInputs {
  /** Set when a candidate's rule needed a script file hashed (its content can change any time). */
  hashedFile: boolean;
}

export class AgentRegistry {
  /** match() runs on every agent request; its statements (by number of paths) are prepared once. */
  private readonly matchStmts = new Map<number, Statement>();

  constructor(private readonly db: Database) {}

  /**
   * Changes whenever the agents table may have changed: a commit by any other connection
   * (PRAGMA data_version, which also sees other processes) or a write through this one.
   * Equal values mean match() would read the same rows.
   */
  generation(): string {
    const other = cachedStatement(this.db, 'PRAGMA data_version').get() as { data_version: number };
    return `${other.data_version}:${localWrites.get(this.db) ?? 0}`;
  }

  /** Inserts or replaces (by name) an agent. Call inside the caller's durable transaction. */
  upsert(a: Omit<AgentRecord, 'id' | 'createdAt' | 'revokedAt'>, now: number): AgentRecord {
    noteWrite(this.db);
    const existing = this.db.prepare('SELECT * FROM agents WHERE name = ?').get(a.name) as AgentRow | undefined;
    const id = existing?.id ?? randomUUID();
    const row = {
      id,
      name: a.name,
      exe_path: a.exePath,
      exe_sha256: a.exeSha256,
      arg_pattern: a.argPattern,
      cwd_pattern: a.cwdPattern,
      created_at: existing?.created_at ?? now,
    };
    // An agent row decides who a process is: written only with the row key (unlocked).
    const mac = signatureFor(this.db, AGENTS, row);
    if (existing) {
      this.db
        .prepare(
          'UPDATE agents SET exe_path = ?, exe_sha256 = ?, arg_pattern = ?, cwd_pattern = ?, revoked_at = NULL, row_mac = ? WHERE id = ?',
        )
        .run(a.exePath, a.exeSha256, a.argPattern, a.cwdPattern, mac, id);
    } else {
      this.db
        .prepare(
          'INSERT INTO agents (id, name, exe_path, exe_sha256, arg_pattern, cwd_pattern, created_at, row_mac) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
        )
        .run(id, a.name, a.exePath, a.exeSha256, a.argPattern, a.cwdPattern, row.created_at, mac);
    }
    return this.get(a.name);
  }

  list(includeRevoked = false): AgentRecord[] {
    const sql = includeRevoked ? 'SELECT * FROM agents ORDER BY name' : 'SELECT * FROM agents WHERE revoked_at IS NULL ORDER BY name';
    return (this.db.prepare(sql).all() as AgentRow[]).map(toRecord);
  }

  find(name: string): AgentRecord | null {
    const row = this.db.prepare('SELECT * FROM agents WHERE name = ?').get(name) as AgentRow | undefined;
    return row ? toRecord(row) : null;
  }

  get(name: string): AgentRecord {
    const a = this.find(name);
    if (!a) throw new AkcError('NOT_FOUND', `no agent named ${name}`, { hint: 'see `akc agent list`' });
    return a;
  }

  byId(id: string): AgentRecord | null {
    const row = this.db.prepare('SELECT * FROM agents WHERE id = ?').get(id) as AgentRow | undefined;
    return row ? toRecord(row) : null;
  }

  /** Marks an agent revoked. Call inside the caller's transaction (grants and leases go with it). */
  revoke(id: string, now: number): void {
    noteWrite(this.db);
    this.db.prepare('UPDATE agents SET revoked_at = ?, row_mac = NULL WHERE id = ?').run(now, id);
  }

  /**
   * The registered agent this process is, if any. Every rule must match the kernel's view
   * of the process; the hint picks among several matches.
   */
  async match(identity: PeerIdentity, hint?: string, inputs?: MatchInputs): Promise<AgentRecord | null> {
    // Code injected into the process (NODE_OPTIONS, LD_PRELOAD, node -r, inline code…) or an
    // environment nobody could read: it is not the agent the rule describes (code-check.ts).
    if (identity.injectedCode === null || (identity.injectedCode && identity.injectedCode.length > 0)) return null;
    const paths = [identity.exe, identity.script].filter((p): p is string => Boolean(p));
    if (paths.length === 0) return null;
    let stmt = this.matchStmts.get(paths.length);
    if (!stmt) {
      stmt = this.db.prepare(
        `SELECT * FROM agents WHERE revoked_at IS NULL AND exe_path IN (${paths.map(() => '?').join(',')}) ORDER BY name`,
      );
      this.matchStmts.set(paths.length, stmt);
    }
    const rows = stmt.all(...paths) as AgentRow[];
    if (rows.length === 0) return null;
    // A row that fails its integrity check is no agent at all (checkRow alerts once).
    const candidates = rows.filter((r) => checkRow(this.db, AGENTS, r) !== 'refused').map(toRecord);
    const matching: AgentRecord[] = [];
    for (const a of candidates) if (await matches(a, identity, inputs)) matching.push(a);
    if (matching.length === 0) return null;
    return (hint && matching.find((a) => a.name === hint)) || matching[0]!;
  }
}

async function matches(a: AgentRecord, identity: PeerIdentity, inputs?: MatchInputs): Promise<boolean> {
  if (a.exeSha256) {
    let actual: string | null = null;
    if (a.exePath === identity.exe) actual = identity.exeSha256;
    else if (a.exePath === identity.script) {
      if (inputs) inputs.hashedFile = true;
      // The content of the script now (the host hashed it for this request), else hash it here.
      actual = identity.scriptSha256 !== undefined ? identity.scriptSha256 : await hashExecutable(a.exePath).catch(() => null);
    }
    if (actual !== a.exeSha256) return false;
  }
  if (a.argPattern && !globMatch(a.argPattern, argsForRules(identity))) return false;
  if (a.cwdPattern && !(identity.cwd && globMatch(a.cwdPattern, identity.cwd))) return false;
  return true;
}

/**
 * What an arg pattern is matched against: argv[1..] joined by spaces, except for the akc CLI
 * itself, where it is the subcommand alone (`mcp`). `akc get X --purpose mcp` then never
 * matches a rule meant for `akc mcp`, whatever free-form values its line carries.
 */
function argsForRules(identity: PeerIdentity): string {
  return akcSubcommand(identity) ?? identity.argv.slice(1).join(' ');
}
