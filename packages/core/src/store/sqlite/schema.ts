import type { DatabaseSync } from "node:sqlite";

/**
 * The schema, as an append-only list of migrations: migration `i` takes the database from
 * `PRAGMA user_version = i` to `i + 1`. Never edit a released migration; add a new one.
 *
 * Every column a query filters or sorts on is a real, indexed column; the rest of each record is one
 * JSON column (`data`), so adding an optional field to the model needs no migration.
 * `AUTOINCREMENT` keeps `seq` and job ids strictly increasing even after the newest row is deleted.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE conversations (
    id            TEXT PRIMARY KEY,
    state         TEXT NOT NULL,
    hunt_deadline INTEGER,
    closed_at_ms  INTEGER,
    version       INTEGER NOT NULL,
    data          TEXT NOT NULL
  ) STRICT;
  CREATE INDEX conversations_hunt_deadline ON conversations (hunt_deadline) WHERE state = 'hunting';
  CREATE INDEX conversations_closed_at ON conversations (closed_at_ms) WHERE state = 'closed';

  CREATE TABLE messages (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid            TEXT NOT NULL UNIQUE,
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    direction       TEXT NOT NULL,
    message_id      TEXT NOT NULL,
    text_hash       TEXT NOT NULL,
    created_at_ms   INTEGER NOT NULL,
    data            TEXT NOT NULL,
    UNIQUE (conversation_id, direction, message_id)
  ) STRICT;
  CREATE INDEX messages_conversation_seq ON messages (conversation_id, seq);
  CREATE INDEX messages_text_hash ON messages (conversation_id, direction, text_hash, created_at_ms);

  CREATE TABLE jobs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    lane            TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    lease_owner     TEXT,
    lease_until     INTEGER,
    data            TEXT NOT NULL
  ) STRICT;
  CREATE INDEX jobs_lane ON jobs (conversation_id, lane, id);
  CREATE INDEX jobs_next_attempt_at ON jobs (next_attempt_at);
  CREATE INDEX jobs_lease_owner ON jobs (lease_owner) WHERE lease_owner IS NOT NULL;

  CREATE TABLE tokens (
    hash       TEXT PRIMARY KEY,
    consumer   TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked    INTEGER NOT NULL,
    created_at TEXT NOT NULL
  ) STRICT;
  CREATE INDEX tokens_consumer ON tokens (consumer);
  CREATE INDEX tokens_expires_at ON tokens (expires_at);
  `,
  // 2: dead letters and lane heads. A job is `pending` or `dead` (kept, listed, replayable); `is_head`
  // marks the oldest pending job of each (conversation, lane), kept right by every write that changes
  // it (enqueue, delete, dead-letter, revive), so a claim reads the due heads only, never the jobs
  // waiting behind them. `created_at_ms` (the job's `createdAt`) makes the oldest pending job an
  // index probe. Existing jobs are pending; the heads are computed here.
  `
  ALTER TABLE jobs ADD COLUMN state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'dead'));
  ALTER TABLE jobs ADD COLUMN is_head INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE jobs ADD COLUMN dead_at INTEGER;
  ALTER TABLE jobs ADD COLUMN created_at_ms INTEGER;
  UPDATE jobs SET created_at_ms =
    CAST(ROUND((julianday(json_extract(data, '$.createdAt')) - 2440587.5) * 86400000.0) AS INTEGER);
  UPDATE jobs SET is_head = 1 WHERE id IN (SELECT MIN(id) FROM jobs GROUP BY conversation_id, lane);
  DROP INDEX jobs_next_attempt_at;
  CREATE INDEX jobs_heads_due ON jobs (next_attempt_at, id) WHERE is_head = 1;
  CREATE UNIQUE INDEX jobs_lane_head ON jobs (conversation_id, lane) WHERE is_head = 1;
  CREATE INDEX jobs_pending_lane ON jobs (conversation_id, lane, id) WHERE state = 'pending';
  CREATE INDEX jobs_pending_created ON jobs (created_at_ms) WHERE state = 'pending';
  CREATE INDEX jobs_dead ON jobs (dead_at, id) WHERE state = 'dead';
  CREATE INDEX jobs_dead_conversation ON jobs (conversation_id, dead_at, id) WHERE state = 'dead';
  `,
  // 3: conversations by state (metrics, console). A covering index: the count per state is read
  // from the index alone, never from the rows and their JSON.
  `
  CREATE INDEX conversations_state ON conversations (state);
  `,
  // 4: recent conversations (the console), newest update first: `updated_at_ms` (the conversation's
  // `updatedAt`) read backwards from its index. Existing conversations get theirs from the JSON.
  `
  ALTER TABLE conversations ADD COLUMN updated_at_ms INTEGER;
  UPDATE conversations SET updated_at_ms =
    CAST(ROUND((julianday(json_extract(data, '$.updatedAt')) - 2440587.5) * 86400000.0) AS INTEGER);
  CREATE INDEX conversations_updated ON conversations (updated_at_ms, id);
  `,
];

/**
 * Brings the schema to the newest version, in one write transaction (so two processes opening the
 * same new file do not both migrate). Idempotent: a database already at the newest version is left
 * alone. Refuses a database written by a newer version of this package.
 */
export function migrate(db: DatabaseSync): void {
  db.exec("BEGIN IMMEDIATE");
  try {
    const row = db.prepare("PRAGMA user_version").get();
    const current = Number(row?.user_version ?? 0);
    if (current > MIGRATIONS.length) {
      throw new Error(
        `the sqlite database has schema version ${current}, newer than this package knows (${MIGRATIONS.length}): upgrade @openchs-bridge/core`,
      );
    }
    for (let version = current; version < MIGRATIONS.length; version++) {
      db.exec(MIGRATIONS[version] ?? "");
    }
    if (current !== MIGRATIONS.length) db.exec(`PRAGMA user_version = ${MIGRATIONS.length}`);
    db.exec("COMMIT");
  } catch (error) {
    db.exec("ROLLBACK");
    throw error;
  }
}
