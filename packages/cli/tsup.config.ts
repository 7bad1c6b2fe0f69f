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
    // import.meta.url in the CommonJS build too (delivery-thread.ts finds its worker file by it).
    shims: true,
  },
  {
    // The delivery thread's worker runs its own file: built beside bin.js.
    entry: ["src/bin.ts", "src/delivery-thread-entry.ts"],
    format: ["esm"],
    sourcemap: true,
    target: "node22",
    platform: "node",
    banner: { js: "#!/usr/bin/env node" },
  },
]);
