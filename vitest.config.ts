import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const src = (pkg: string, entry = "index") =>
  fileURLToPath(new URL(`./packages/${pkg}/src/${entry}.ts`, import.meta.url));

// Tests run against src, no build: workspace imports resolve to each package's source. Exact matches
// (anchored regexes), so that `@openchs-bridge/core` does not swallow `@openchs-bridge/core/sqlite`.
const alias = [
  { find: /^@openchs-bridge\/core$/, replacement: src("core") },
  { find: /^@openchs-bridge\/core\/sqlite$/, replacement: src("core", "sqlite") },
  { find: /^@openchs-bridge\/core\/postgres$/, replacement: src("core", "postgres") },
  { find: /^@openchs-bridge\/core\/node$/, replacement: src("core", "node/index") },
  { find: /^@openchs-bridge\/core\/upstream$/, replacement: src("core", "upstream/index") },
  { find: /^@openchs-bridge\/core\/prometheus$/, replacement: src("core", "prometheus/index") },
  { find: /^@openchs-bridge\/openchs-client$/, replacement: src("openchs-client") },
  { find: /^@openchs-bridge\/rapidpro-adapter$/, replacement: src("rapidpro-adapter") },
  { find: /^@openchs-bridge\/cli$/, replacement: src("cli") },
];

const project = (name: string) => ({
  resolve: { alias },
  test: {
    name,
    root: `./packages/${name}`,
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
  },
});

/** The example hosts share one project: they run one conformance suite against real servers. */
const examples = {
  resolve: { alias },
  test: {
    name: "examples",
    root: "./examples",
    include: ["express/src/**/*.test.ts", "hono/src/**/*.test.ts"],
  },
};

/**
 * The host conformance suite (test/hosts): the black-box HTTP suite every host passes, run here
 * against plain node:http; the express and hono examples run it against their own hosts.
 */
const hosts = {
  resolve: { alias },
  test: {
    name: "hosts",
    root: "./test/hosts",
    include: ["**/*.test.ts"],
  },
};

/** The simulated OpenCHS helpline and RapidPro (examples/simulators): real loopback servers, tested on their own. */
const simulators = {
  resolve: { alias },
  test: {
    name: "simulators",
    root: "./examples/simulators",
    include: ["src/**/*.test.ts"],
  },
};

/**
 * The reliability and security suite (test/reliability): faults, crashes, hostile input, auth and
 * secrets against the real gateway process over loopback. Slow by nature: a generous timeout.
 */
const reliability = {
  resolve: { alias },
  test: {
    name: "reliability",
    root: "./test/reliability",
    include: ["**/*.test.ts"],
    testTimeout: 300_000,
    hookTimeout: 60_000,
  },
};

/**
 * The real callers (test/real-callers): the exact requests of the helpline's PHP, mailroom and the
 * documented Postman examples, written on raw sockets to the real gateway process, answers read the
 * way each caller reads them.
 */
const realCallers = {
  resolve: { alias },
  test: {
    name: "real-callers",
    root: "./test/real-callers",
    include: ["**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
};

/**
 * The operator console in a real browser (test/console): Debian's chromium driven by playwright-core,
 * against the real gateway process. Skipped, visibly, where /usr/bin/chromium is missing; fails in CI.
 */
const consoleBrowser = {
  resolve: { alias },
  test: {
    name: "console",
    root: "./test/console",
    include: ["**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
};

export default defineConfig({
  test: {
    projects: [
      project("core"),
      project("openchs-client"),
      project("rapidpro-adapter"),
      project("cli"),
      examples,
      hosts,
      simulators,
      reliability,
      realCallers,
      consoleBrowser,
    ],
    coverage: {
      provider: "v8",
      include: ["packages/*/src/**/*.ts"],
      exclude: ["**/*.test.ts", "**/__fixtures__/**"],
      reporter: ["text-summary", "html"],
    },
  },
});
