import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { createMemoryStore, type Store } from "@openchs-bridge/core";
import { createPostgresStore } from "@openchs-bridge/core/postgres";
import { createSqliteStore } from "@openchs-bridge/core/sqlite";
import { ConfigError } from "./config";

/**
 * Opens the store `BRIDGE_STORE` names: `sqlite:<file>` (the directory is created), `memory`, or
 * `postgres://…` / `postgresql://…` (several gateway instances on one database; `?schema=<name>`
 * picks the schema, created when missing). The PostgreSQL store connects and migrates on first use,
 * and loads the `pg` driver only then: sqlite and memory users never load it.
 */
export function openStore(spec: string): { store: Store; description: string } {
  if (spec === "memory") return { store: createMemoryStore(), description: "memory (nothing survives a restart)" };
  if (spec.startsWith("sqlite:")) {
    const file = spec.slice("sqlite:".length);
    if (file !== ":memory:") mkdirSync(dirname(resolve(file)), { recursive: true });
    return { store: createSqliteStore(file), description: `sqlite ${file}` };
  }
  if (/^postgres(ql)?:\/\//.test(spec)) {
    const { connectionString, schema, description } = parsePostgresSpec(spec);
    try {
      return {
        store: createPostgresStore({ connectionString, ...(schema !== undefined ? { schema } : {}) }),
        description,
      };
    } catch (error) {
      throw new ConfigError("BRIDGE_STORE", `BRIDGE_STORE: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  throw new ConfigError("BRIDGE_STORE", "BRIDGE_STORE must be sqlite:<file>, memory or postgres://…");
}

/**
 * Splits `postgres://…?schema=<name>` into the driver's connection string (without `schema`, which
 * the driver does not know) and the schema, and describes it for the log without the password.
 */
export function parsePostgresSpec(spec: string): { connectionString: string; schema?: string; description: string } {
  let url: URL;
  try {
    url = new URL(spec);
  } catch {
    // Never echo the value: it may hold a password.
    throw new ConfigError("BRIDGE_STORE", "BRIDGE_STORE is not a valid postgres:// URL");
  }
  const schema = url.searchParams.get("schema") ?? undefined;
  url.searchParams.delete("schema");
  const connectionString = url.toString();
  const shown = new URL(connectionString);
  if (shown.password) shown.password = "***";
  for (const name of ["password", "sslpassword"]) if (shown.searchParams.has(name)) shown.searchParams.set(name, "***");
  return {
    connectionString,
    ...(schema !== undefined ? { schema } : {}),
    description: `postgres ${shown.toString()}${schema !== undefined ? ` (schema ${schema})` : ""}, shared by every instance on it`,
  };
}
