/**
 * Schema migrations, applied in order by `PRAGMA user_version`. Never edit a shipped
 * migration: add a new one. Each migration has its own test (test/core/migrations.test.ts).
 */
import type { Database } from 'better-sqlite3';

export interface Migration {
  version: number;
  description: string;
  up(db: Database): void;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'vault, secrets with versions, agents, grants, leases, audit log, settings',
    up(db) {
      db.exec(`
        CREATE TABLE vault (
          singleton       INTEGER PRIMARY KEY CHECK (singleton = 1),
          id              TEXT NOT NULL,
          kdf             TEXT NOT NULL,
          salt            BLOB NOT NULL,
          wrapped_key_pw  BLOB NOT NULL,
          wrapped_key_kc  BLOB,
          created_at      INTEGER NOT NULL,
          updated_at      INTEGER NOT NULL
        ) STRICT;

        CREATE TABLE secrets (
          id               TEXT PRIMARY KEY,
          name             TEXT NOT NULL UNIQUE,
          type             TEXT NOT NULL,
          description      TEXT NOT NULL DEFAULT '',
          owner            TEXT NOT NULL DEFAULT '',
          tags             TEXT NOT NULL DEFAULT '[]',
          current_version  INTEGER NOT NULL,
          created_at       INTEGER NOT NULL,
          updated_at       INTEGER NOT NULL
        ) STRICT;

        CREATE TABLE secret_versions (
          secret_id   TEXT NOT NULL REFERENCES secrets(id) ON DELETE CASCADE,
          version     INTEGER NOT NULL,
          blob        BLOB NOT NULL,
          state       TEXT NOT NULL CHECK (state IN ('current', 'previous', 'retired')),
          created_at  INTEGER NOT NULL,
          retire_at   INTEGER,
          PRIMARY KEY (secret_id, version)
        ) STRICT;

        CREATE TABLE agents (
          id            TEXT PRIMARY KEY,
          name          TEXT NOT NULL UNIQUE,
          exe_path      TEXT NOT NULL,
          exe_sha256    TEXT,
          arg_pattern   TEXT,
          cwd_pattern   TEXT,
          created_at    INTEGER NOT NULL,
          revoked_at    INTEGER
        ) STRICT;

        CREATE TABLE grants (
          id              TEXT PRIMARY KEY,
          agent_id        TEXT REFERENCES agents(id) ON DELETE CASCADE,
          fingerprint     TEXT,
          exe_path        TEXT,
          exe_sha256      TEXT,
          secret_pattern  TEXT NOT NULL,
          effect          TEXT NOT NULL CHECK (effect IN ('allow', 'deny')),
          scope           TEXT NOT NULL CHECK (scope IN ('once', 'duration', 'until_lock', 'always')),
          expires_at      INTEGER,
          uses_left       INTEGER,
          keep_on_rotate  INTEGER NOT NULL DEFAULT 0,
          created_at      INTEGER NOT NULL,
          created_by      TEXT NOT NULL,
          revoked_at      INTEGER,
          CHECK (agent_id IS NOT NULL OR fingerprint IS NOT NULL)
        ) STRICT;
        CREATE INDEX grants_agent ON grants(agent_id) WHERE revoked_at IS NULL;
        CREATE INDEX grants_fingerprint ON grants(fingerprint) WHERE revoked_at IS NULL;

        CREATE TABLE leases (
          id           TEXT PRIMARY KEY,
          agent_id     TEXT,
          fingerprint  TEXT NOT NULL,
          pid          INTEGER,
          secret_id    TEXT NOT NULL,
          secret_name  TEXT NOT NULL,
          version      INTEGER NOT NULL,
          issued_at    INTEGER NOT NULL,
          expires_at   INTEGER NOT NULL,
          revoked_at   INTEGER
        ) STRICT;
        CREATE INDEX leases_live ON leases(expires_at) WHERE revoked_at IS NULL;

        CREATE TABLE audit (
          seq        INTEGER PRIMARY KEY,
          ts         INTEGER NOT NULL,
          event      TEXT NOT NULL,
          agent      TEXT,
          pid        INTEGER,
          exe        TEXT,
          secret     TEXT,
          version    INTEGER,
          decision   TEXT,
          purpose    TEXT,
          reason     TEXT,
          detail     TEXT,
          prev_hash  BLOB NOT NULL,
          hash       BLOB NOT NULL
        ) STRICT;
        CREATE INDEX audit_secret ON audit(secret, seq);
        CREATE INDEX audit_agent ON audit(agent, seq);

        CREATE TABLE audit_checkpoints (
          seq   INTEGER PRIMARY KEY,
          hash  BLOB NOT NULL,
          mac   BLOB NOT NULL,
          ts    INTEGER NOT NULL
        ) STRICT;

        CREATE TABLE settings (
          key    TEXT PRIMARY KEY,
          value  TEXT NOT NULL
        ) STRICT;
      `);
    },
  },
  {
    version: 2,
    description: 'proxy bindings for the brokering proxy',
    up(db) {
      // One row per `akc proxy add NAME`: where requests go, which secret they carry and
      // how (auth_kind + auth_name + auth_template), which method/path globs are allowed
      // (JSON array of "METHOD /glob"), and whether a private upstream address is allowed.
      db.exec(`
        CREATE TABLE proxy_bindings (
          name           TEXT PRIMARY KEY,
          upstream       TEXT NOT NULL,
          secret_name    TEXT NOT NULL,
          auth_kind      TEXT NOT NULL CHECK (auth_kind IN ('header', 'query', 'basic')),
          auth_name      TEXT NOT NULL,
          auth_template  TEXT NOT NULL,
          allow_rules    TEXT NOT NULL DEFAULT '[]',
          allow_private  INTEGER NOT NULL DEFAULT 0 CHECK (allow_private IN (0, 1)),
          base_url_env   TEXT,
          created_at     INTEGER NOT NULL,
          updated_at     INTEGER NOT NULL
        ) STRICT;
      `);
    },
  },
  {
    version: 3,
    description: 'secret lifecycle (expiry, rotation, canaries), webhook signing keys, alerts',
    up(db) {
      // Lifecycle policy per secret (src/core/lifecycle): owner already exists (v1).
      // expires_at is absolute; expire_after_ms (from --expires-in) moves it on every new version.
      // rotation_pending_at: a webhook receiver answered 202 and the new value is awaited.
      // Alerts: rotation failures and guard firings that wait for a human (`akc alerts`).
      db.exec(`
        ALTER TABLE secrets ADD COLUMN purpose TEXT NOT NULL DEFAULT '';
        ALTER TABLE secrets ADD COLUMN expires_at INTEGER;
        ALTER TABLE secrets ADD COLUMN expire_after_ms INTEGER CHECK (expire_after_ms IS NULL OR expire_after_ms > 0);
        ALTER TABLE secrets ADD COLUMN rotate_every_ms INTEGER CHECK (rotate_every_ms IS NULL OR rotate_every_ms > 0);
        ALTER TABLE secrets ADD COLUMN grace_ms INTEGER CHECK (grace_ms IS NULL OR grace_ms >= 0);
        ALTER TABLE secrets ADD COLUMN rotator TEXT;
        ALTER TABLE secrets ADD COLUMN last_rotated_at INTEGER;
        ALTER TABLE secrets ADD COLUMN next_rotation_at INTEGER;
        ALTER TABLE secrets ADD COLUMN rotation_pending_at INTEGER;
        ALTER TABLE secrets ADD COLUMN canary INTEGER NOT NULL DEFAULT 0 CHECK (canary IN (0, 1));
        CREATE INDEX secrets_next_rotation ON secrets(next_rotation_at) WHERE next_rotation_at IS NOT NULL;

        CREATE TABLE webhook_keys (
          secret_id   TEXT PRIMARY KEY REFERENCES secrets(id) ON DELETE CASCADE,
          blob        BLOB NOT NULL,
          created_at  INTEGER NOT NULL
        ) STRICT;

        CREATE TABLE alerts (
          id          INTEGER PRIMARY KEY,
          ts          INTEGER NOT NULL,
          kind        TEXT NOT NULL CHECK (kind IN ('rotation.failed', 'rotation.due', 'guard.fired')),
          secret      TEXT,
          rule        TEXT,
          agent       TEXT,
          message     TEXT NOT NULL,
          detail      TEXT,
          cleared_at  INTEGER,
          cleared_by  TEXT
        ) STRICT;
        CREATE INDEX alerts_open ON alerts(kind, secret) WHERE cleared_at IS NULL;
      `);
    },
  },
  {
    version: 4,
    description: 'row MACs on policy-bearing rows, grant channels, tamper alerts',
    up(db) {
      // row_mac: HMAC-SHA256 under a key derived from the vault key (src/core/integrity).
      // Rows from before this migration are NULL until the first password unlock signs them.
      // Grants gain a channel: 'secret' grants serve secret.get/getMany only; 'proxy' grants
      // (made by approving a brokered proxy call) serve only the proxy, for one binding and
      // a "METHOD /path-glob" rule. Alerts gain the kind 'tamper.row' (CHECK: table rebuilt).
      db.exec(`
        ALTER TABLE agents ADD COLUMN row_mac BLOB;
        ALTER TABLE grants ADD COLUMN row_mac BLOB;
        ALTER TABLE grants ADD COLUMN channel TEXT NOT NULL DEFAULT 'secret' CHECK (channel IN ('secret', 'proxy'));
        ALTER TABLE grants ADD COLUMN proxy_binding TEXT;
        ALTER TABLE grants ADD COLUMN proxy_rule TEXT;
        ALTER TABLE secrets ADD COLUMN row_mac BLOB;
        ALTER TABLE proxy_bindings ADD COLUMN row_mac BLOB;
        ALTER TABLE settings ADD COLUMN row_mac BLOB;

        CREATE TABLE alerts_v4 (
          id          INTEGER PRIMARY KEY,
          ts          INTEGER NOT NULL,
          kind        TEXT NOT NULL CHECK (kind IN ('rotation.failed', 'rotation.due', 'guard.fired', 'tamper.row')),
          secret      TEXT,
          rule        TEXT,
          agent       TEXT,
          message     TEXT NOT NULL,
          detail      TEXT,
          cleared_at  INTEGER,
          cleared_by  TEXT
        ) STRICT;
        INSERT INTO alerts_v4 SELECT id, ts, kind, secret, rule, agent, message, detail, cleared_at, cleared_by FROM alerts;
        DROP TABLE alerts;
        ALTER TABLE alerts_v4 RENAME TO alerts;
        CREATE INDEX alerts_open ON alerts(kind, secret) WHERE cleared_at IS NULL;
      `);
    },
  },
  {
    version: 5,
    description: 'grants bound to the command an `akc run` approval was for',
    up(db) {
      // A grant made by approving an `akc run` request records the command it was shown
      // for: the resolved executable and a SHA-256 of the argv (src/core/policy/run-command.ts).
      // Such a grant serves only that command; NULL (every older grant) serves other requests.
      // Both columns are MACed after the others, only when set (integrity/rows.ts laterColumns),
      // so the MACs of existing rows still verify.
      db.exec(`
        ALTER TABLE grants ADD COLUMN run_exe TEXT;
        ALTER TABLE grants ADD COLUMN run_argv_sha256 TEXT CHECK (run_argv_sha256 IS NULL OR length(run_argv_sha256) = 64);
      `);
    },
  },
  {
    version: 6,
    description: 'grants name the program and command they were approved for; proxy bindings name a placeholder variable',
    up(db) {
      // program_label: the program an approval or block was for, with its paths ("python3
      // /home/me/agent.py", "akc run via node /home/me/bot.js"), so `akc grants` and
      // `akc unblock` can say who it is; run_line: the command line of a run grant. NULL on
      // older rows (they show the executable and fingerprint as before).
      // placeholder_env: the variable `akc run --proxy` sets to a placeholder key so an SDK
      // that insists on a key starts (the proxy adds the real one).
      // All three are MACed as later columns (integrity/rows.ts): existing MACs still verify.
      db.exec(`
        ALTER TABLE grants ADD COLUMN program_label TEXT;
        ALTER TABLE grants ADD COLUMN run_line TEXT;
        ALTER TABLE proxy_bindings ADD COLUMN placeholder_env TEXT;
      `);
    },
  },
];

export const LATEST_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;
