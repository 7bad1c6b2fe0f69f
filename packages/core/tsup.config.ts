import { defineConfig } from "tsup";

export default defineConfig({
  // `sqlite` and `postgres` are entries of their own (`@openchs-bridge/core/sqlite`, `/postgres`) so
  // the main entry stays runtime-neutral and sqlite users never load the PostgreSQL driver. They
  // import the core by its package name, kept external, so every entry shares one copy of the core
  // (one StoreConflictError class for `instanceof`) in ESM and CJS alike. `pg` is an optional peer.
  // `node/index` (`@openchs-bridge/core/node`, the node:http adapter, built to dist/node/) bundles only
  // the core's error table (pure): Node hosts use it without loading the rest. `upstream/index`
  // (`@openchs-bridge/core/upstream`, the clients' HTTP toolkit) takes the core's errors by package name.
  // `prometheus/index` (`@openchs-bridge/core/prometheus`, Node-only) bundles the core's pure label
  // helpers and takes `prom-client`, an optional peer, from the host (one registry class).
  entry: [
    "src/index.ts",
    "src/sqlite.ts",
    "src/postgres.ts",
    "src/node/index.ts",
    "src/upstream/index.ts",
    "src/prometheus/index.ts",
  ],
  external: ["@openchs-bridge/core", "node:sqlite", "node:fs/promises", "pg", "prom-client", "undici"],
  // Keep `node:` specifiers: `node:sqlite` exists only with its prefix ("sqlite" would be an npm package).
  removeNodeProtocol: false,
  format: ["esm", "cjs"],
  dts: { compilerOptions: { customConditions: [], composite: false } },
  sourcemap: true,
  clean: true,
  target: "node22",
  platform: "neutral",
});
