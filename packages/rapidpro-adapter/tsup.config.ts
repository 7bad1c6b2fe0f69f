import { defineConfig } from "tsup";

export default defineConfig({
  entry: ["src/index.ts"],
  format: ["esm", "cjs"],
  dts: { compilerOptions: { customConditions: [], composite: false } },
  sourcemap: true,
  clean: true,
  target: "node22",
  platform: "neutral",
});
