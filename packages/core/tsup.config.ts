import { defineConfig } from "tsup";

export default defineConfig({
  // `sqlite` and `postgres` are entries of their own (`@openchs-bridge/core/sqlite`, `/postgres`) so
  // the main entry stays runtime-neutral and sqlite users never load the PostgreSQL driver. They
  // import the core by its package name, kept external, so every entry shares one copy of the core
  // (one StoreConflictError class for `instanceof`) in ESM and CJS alike. `pg` is an optional peer.
  entry: ["src/index.ts", "src/sqlite.ts", "src/postgres.ts"],
  external: ["@openchs-bridge/core", "node:sqlite", "pg"],
  // Keep `node:` specifiers: `node:sqlite` exists only with its prefix ("sqlite" would be an npm package).
  removeNodeProtocol: false,
  format: ["esm", "cjs"],
  dts: { compilerOptions: { customConditions: [], composite: false } },
  sourcemap: true,
  clean: true,
  target: "node22",
  platform: "neutral",
});
