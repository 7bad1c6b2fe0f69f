/**
 * `@openchs-bridge/core/sqlite`: the embedded durable store, on `node:sqlite` (Node ≥ 22.13). A
 * separate entry point so that `@openchs-bridge/core` itself stays runtime-neutral.
 *
 * @packageDocumentation
 */
export { createSqliteStore, type SqliteStoreOptions } from "./store/sqlite/sqlite-store";
