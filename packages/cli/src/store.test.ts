import { randomBytes } from "node:crypto";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { ConfigError } from "./config";
import { openStore, parsePostgresSpec } from "./store";

describe("openStore: postgres://", () => {
  it("opens a shared PostgreSQL store, described without its password", async () => {
    const { store, description } = openStore("postgres://bridge:s3cret-pass@db.example:5432/bridge?schema=bridge_a");
    try {
      expect(store.shared).toBe(true);
      expect(description).toBe(
        "postgres postgres://bridge:***@db.example:5432/bridge (schema bridge_a), shared by every instance on it",
      );
      expect(description).not.toMatch(/s3cret/);
    } finally {
      await store.close();
    }
  });

  it("takes schema out of the driver's connection string and keeps the other parameters", () => {
    expect(parsePostgresSpec("postgresql://u@h/db?sslmode=require&schema=s1&application_name=gw1")).toEqual({
      connectionString: "postgresql://u@h/db?sslmode=require&application_name=gw1",
      schema: "s1",
      description:
        "postgres postgresql://u@h/db?sslmode=require&application_name=gw1 (schema s1), shared by every instance on it",
    });
    expect(parsePostgresSpec("postgres://u@h/db").schema).toBeUndefined();
    expect(parsePostgresSpec("postgres://u@h/db?password=pw").description).not.toMatch(/=pw/);
  });

  it("names BRIDGE_STORE, never the value, when the URL or the schema is wrong", () => {
    for (const spec of ["postgres://u:pw@h/db?schema=Not-Valid", "postgres://u:pw@[bad/db"]) {
      const error = (() => {
        try {
          openStore(spec);
        } catch (e) {
          return e;
        }
      })();
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).variable).toBe("BRIDGE_STORE");
      expect((error as Error).message).not.toMatch(/pw/);
    }
  });

  // Skipped without a database, unless CI requires one (BRIDGE_TEST_REQUIRE_POSTGRES=1): then it fails.
  const databaseUrl = process.env.DATABASE_URL || undefined;
  const required = process.env.BRIDGE_TEST_REQUIRE_POSTGRES === "1";
  it.skipIf(!databaseUrl && !required)(
    "connects, creating and migrating the schema it names (needs DATABASE_URL)",
    async () => {
      if (!databaseUrl) throw new Error("BRIDGE_TEST_REQUIRE_POSTGRES=1 but DATABASE_URL is not set");
      const schema = `t_${randomBytes(6).toString("hex")}`;
      const url = new URL(databaseUrl);
      url.searchParams.set("schema", schema);
      const { store } = openStore(url.toString());
      const admin = new pg.Client({ connectionString: databaseUrl });
      await admin.connect();
      try {
        await store.ping();
        const { rows } = await admin.query(`SELECT count(*)::int AS n FROM ${schema}.schema_migrations`);
        expect(rows[0].n).toBeGreaterThan(0);
      } finally {
        await store.close();
        await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await admin.end();
      }
    },
  );
});
