import { defineConfig } from "tsup";

export default defineConfig([
  {
    entry: ["src/index.ts"],
    format: ["esm", "cjs"],
    dts: { compilerOptions: { customConditions: [], composite: false } },
    sourcemap: true,
    clean: true,
    target: "node22",
    platform: "node",
  },
  {
    entry: ["src/bin.ts"],
    format: ["esm"],
    sourcemap: true,
    target: "node22",
    platform: "node",
    banner: { js: "#!/usr/bin/env node" },
  },
]);
