/**
 * `@openchs-bridge/core/postgres`: the PostgreSQL store, for several gateway instances sharing one
 * database. A separate entry point so that users of the other stores never load it; it needs the
 * `pg` package (an optional peer dependency: `npm install pg`), loaded when a store is first used.
 *
 * @packageDocumentation
 */
export {
  createPostgresStore,
  type PostgresStore,
  type PostgresStoreOptions,
} from "./store/postgres/postgres-store";
