// Runs publint and @arethetypeswrong/cli on every published package (after `npm run build`).
import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";

const packages = readdirSync(new URL("../packages", import.meta.url), { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => `packages/${d.name}`);

let failed = 0;
for (const dir of packages) {
  for (const [tool, args] of [
    ["publint", ["publint", "--strict", dir]],
    // node16 profile: node10 resolution (no `exports`, so no subpaths like /sqlite) is irrelevant
    // with engines >=22.
    ["attw", ["attw", "--pack", dir, "--profile", "node16", "--format", "table-flipped"]],
  ]) {
    process.stdout.write(`\n== ${tool} ${dir}\n`);
    try {
      execFileSync("npx", ["--no-install", ...args], { stdio: "inherit" });
    } catch {
      failed++;
      process.stdout.write(`!! ${tool} failed for ${dir}\n`);
    }
  }
}
if (failed) {
  console.error(`\n${failed} package check(s) failed`);
  process.exit(1);
}
console.log(`\nAll ${packages.length} packages pass publint and attw.`);
