import type { PoolClient } from "pg";

/**
 * The schema, as an append-only list of migrations: migration `i` (0-based) is recorded as version
 * `i + 1` in `schema_migrations`. Never edit a released migration; add a new one.
 *
 * As in the sqlite store, every column a query filters or sorts on is a real, indexed column and the
 * rest of each record is one JSON text column (`data`), so an optional field added to the model needs
 * no migration. `data` is `text`, not `jsonb`: it round-trips exactly what was written, and a message
 * text holding `\u0000` (which `jsonb` refuses) is stored like any other. Instants (epoch ms) are
 * `double precision`, JavaScript's own number: any value the bridge computes is stored and read back
 * as it was (integers exactly up to 2^53), fractions included. Identity columns never hand out a
 * number twice, so `seq` and job ids keep increasing after the newest row is deleted.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE conversations (
    id            text PRIMARY KEY,
    state         text NOT NULL,
    hunt_deadline double precision,
    closed_at_ms  double precision,
    version       integer NOT NULL,
    data          text NOT NULL
  );
  CREATE INDEX conversations_hunt_deadline ON conversations (hunt_deadline, id) WHERE state = 'hunting';
  CREATE INDEX conversations_closed_at ON conversations (closed_at_ms) WHERE state = 'closed';

  CREATE TABLE messages (
    seq             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uuid            text NOT NULL UNIQUE,
    conversation_id text NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    direction       text NOT NULL,
    message_id      text NOT NULL,
    text_hash       text NOT NULL,
    created_at_ms   double precision NOT NULL,
    data            text NOT NULL,
    UNIQUE (conversation_id, direction, message_id)
  );
  CREATE INDEX messages_conversation_seq ON messages (conversation_id, seq);
  CREATE INDEX messages_text_hash ON messages (conversation_id, direction, text_hash, created_at_ms);

  CREATE TABLE jobs (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conversation_id text NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    lane            text NOT NULL,
    attempts        integer NOT NULL,
    next_attempt_at double precision NOT NULL,
    lease_owner     text,
    lease_until     double precision,
    data            text NOT NULL
  );
  CREATE INDEX jobs_lane ON jobs (conversation_id, lane, id);
  CREATE INDEX jobs_due ON jobs (next_attempt_at, id);
  CREATE INDEX jobs_lease_owner ON jobs (lease_owner) WHERE lease_owner IS NOT NULL;

  CREATE TABLE tokens (
    hash       text PRIMARY KEY,
    consumer   text NOT NULL,
    expires_at double precision NOT NULL,
    revoked    boolean NOT NULL,
    created_at text NOT NULL
  );
  CREATE INDEX tokens_consumer ON tokens (consumer);
  CREATE INDEX tokens_expires_at ON tokens (expires_at);
  `,
  // 2: dead letters and lane heads. A job is 'pending' or 'dead' (kept, listed, replayable); is_head
  // marks the oldest pending job of each (conversation, lane), kept right by every write that changes
  // it (enqueue, delete, dead-letter, revive; all under the conversation's row lock), so a claim reads
  // the due heads only, never the jobs waiting behind them. created_at_ms (the job's createdAt) makes
  // the oldest pending job an index probe. Existing jobs are pending; the heads are computed here.
  // Only an ISO createdAt is converted (always what the bridge wrote); anything else stays NULL.
  `
  ALTER TABLE jobs ADD COLUMN state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'dead'));
  ALTER TABLE jobs ADD COLUMN is_head boolean NOT NULL DEFAULT false;
  ALTER TABLE jobs ADD COLUMN dead_at double precision;
  ALTER TABLE jobs ADD COLUMN created_at_ms double precision;
  UPDATE jobs SET created_at_ms = round(extract(epoch FROM (data::json ->> 'createdAt')::timestamptz) * 1000)
  WHERE (data::json ->> 'createdAt') ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)?(Z|[+-][0-9]{2}:[0-9]{2})$';
  UPDATE jobs SET is_head = true
  WHERE id IN (SELECT DISTINCT ON (conversation_id, lane) id FROM jobs ORDER BY conversation_id, lane, id);
  DROP INDEX jobs_due;
  CREATE INDEX jobs_heads_due ON jobs (next_attempt_at, id) WHERE is_head;
  CREATE UNIQUE INDEX jobs_lane_head ON jobs (conversation_id, lane) WHERE is_head;
  CREATE INDEX jobs_pending_lane ON jobs (conversation_id, lane, id) WHERE state = 'pending';
  CREATE INDEX jobs_pending_created ON jobs (created_at_ms) WHERE state = 'pending';
  CREATE INDEX jobs_dead ON jobs (dead_at, id) WHERE state = 'dead';
  CREATE INDEX jobs_dead_conversation ON jobs (conversation_id, dead_at, id) WHERE state = 'dead';
  `,
  // 3: conversations by state (metrics, console). The count per state is an index-only scan of this
  // index, never a read of the rows and their JSON.
  `
  CREATE INDEX conversations_state ON conversations (state);
  `,
  // 4: recent conversations (the console), newest update first: updated_at_ms (the conversation's
  // updatedAt) read backwards from its index. Existing conversations get theirs from the JSON (an ISO
  // updatedAt only, always what the bridge wrote; anything else stays NULL).
  `
  ALTER TABLE conversations ADD COLUMN updated_at_ms double precision;
  UPDATE conversations SET updated_at_ms = round(extract(epoch FROM (data::json ->> 'updatedAt')::timestamptz) * 1000)
  WHERE (data::json ->> 'updatedAt') ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)?(Z|[+-][0-9]{2}:[0-9]{2})$';
  CREATE INDEX conversations_updated ON conversations (updated_at_ms, id);
  `,
];

/** The advisory lock every migrating instance takes: one namespace for this package, one key per schema. */
const LOCK_NAMESPACE = "openchs-bridge:migrate";

/**
 * Brings the schema `schema` to the newest version in one transaction, under a transaction-level
 * advisory lock (`pg_advisory_xact_lock`), so that several instances starting at once migrate it
 * exactly once: the others wait for the lock, then find every migration recorded. Creates the schema
 * when missing. Refuses a database written by a newer version of this package. Returns the version.
 *
 * `client` must be a connection whose `search_path` starts with `schema` (the store sets it).
 */
export async function migrate(client: PoolClient, schema: string): Promise<number> {
  await client.query("BEGIN");
  try {
    await client.query("SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))", [LOCK_NAMESPACE, schema]);
    // Only when missing: CREATE SCHEMA needs a privilege on the database that a user owning only its
    // schema lacks, even with IF NOT EXISTS.
    const exists = await client.query("SELECT 1 FROM pg_namespace WHERE nspname = $1", [schema]);
    if (exists.rowCount === 0) await client.query(`CREATE SCHEMA ${quoteIdentifier(schema)}`);
    // The connection's search_path may have named the schema before it existed: set it again.
    await client.query("SELECT set_config('search_path', $1, true)", [quoteIdentifier(schema)]);
    await client.query(
      `CREATE TABLE IF NOT EXISTS schema_migrations (
         version    integer PRIMARY KEY,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
    const { rows } = await client.query<{ version: number | null }>(
      "SELECT max(version) AS version FROM schema_migrations",
    );
    const current = Number(rows[0]?.version ?? 0);
    if (current > MIGRATIONS.length) {
      throw new Error(
        `the PostgreSQL schema has version ${current}, newer than this package knows (${MIGRATIONS.length}): upgrade @openchs-bridge/core`,
      );
    }
    for (let version = current; version < MIGRATIONS.length; version++) {
      await client.query(MIGRATIONS[version] ?? "");
      await client.query("INSERT INTO schema_migrations (version) VALUES ($1)", [version + 1]);
    }
    await client.query("COMMIT");
    return MIGRATIONS.length;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  }
}

/** `"name"`, with inner quotes doubled: an identifier safe to splice into SQL. */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
