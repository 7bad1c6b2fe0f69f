import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, describe, it } from "vitest";

/**
 * The database the PostgreSQL tests use: `DATABASE_URL`, e.g.
 * `postgres://postgres@127.0.0.1:5432/bridge_test`. Each test works in a schema of its own, created
 * and dropped here, so test files run in parallel on one database.
 */
export const DATABASE_URL = process.env.DATABASE_URL || undefined;

/** Set in CI (`BRIDGE_TEST_REQUIRE_POSTGRES=1`): a missing `DATABASE_URL` fails instead of skipping. */
export const POSTGRES_REQUIRED = process.env.BRIDGE_TEST_REQUIRE_POSTGRES === "1";

let warned = false;

/**
 * `describe` when `DATABASE_URL` is set. Without it the block is skipped with a visible message, or
 * fails when `BRIDGE_TEST_REQUIRE_POSTGRES=1` (CI must not pass by skipping).
 */
export function describePostgres(name: string, body: () => void): void {
  if (DATABASE_URL) {
    describe(name, body);
    return;
  }
  if (POSTGRES_REQUIRED) {
    describe(name, () => {
      it("needs a PostgreSQL database", () => {
        throw new Error("BRIDGE_TEST_REQUIRE_POSTGRES=1 but DATABASE_URL is not set: the PostgreSQL tests cannot run");
      });
    });
    return;
  }
  if (!warned) {
    warned = true;
    console.warn(
      "PostgreSQL tests SKIPPED: DATABASE_URL is not set (e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/bridge_test npm test)",
    );
  }
  describe.skip(`${name} (skipped: DATABASE_URL is not set)`, body);
}

let admin: pg.Pool | undefined;

// Registered while the test file is collected (this module is imported then), on the file's root suite.
if (DATABASE_URL) {
  afterAll(async () => {
    await admin?.end();
    admin = undefined;
  });
}

/** A pool on `DATABASE_URL` for the tests' own statements (creating, inspecting, dropping schemas). */
export function adminPool(): pg.Pool {
  if (!DATABASE_URL) throw new Error("DATABASE_URL is not set");
  if (!admin) {
    admin = new pg.Pool({ connectionString: DATABASE_URL, max: 3 });
    admin.on("error", () => undefined);
  }
  return admin;
}

/** A fresh schema name (not created: the store creates it); `drop()` removes it with everything in it. */
export function scratchSchema(): { schema: string; drop: () => Promise<void> } {
  const schema = `t_${randomBytes(6).toString("hex")}`;
  const pool = adminPool();
  return {
    schema,
    drop: async () => {
      await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    },
  };
}
