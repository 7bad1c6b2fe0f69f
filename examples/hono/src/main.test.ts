import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";

const ROOT = new URL("../../../", import.meta.url).pathname;

/** Runs src/main.ts in `cwd` with only PATH and HOME set, as `npm start` would. */
function start(cwd: string) {
  return spawnSync(
    process.execPath,
    [
      "--conditions=@openchs-bridge/source",
      "--import",
      join(ROOT, "node_modules/tsx/dist/loader.mjs"),
      join(ROOT, "examples/hono/src/main.ts"),
    ],
    { cwd, env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "" }, encoding: "utf8", timeout: 20_000 },
  );
}

it("exits 1 on missing configuration with the message `openchs-bridge serve` gives, and no stack trace", () => {
  const dir = mkdtempSync(join(tmpdir(), "example-hono-"));
  try {
    const run = start(dir);
    expect(run.status).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr).toMatch(/^openchs-bridge: BRIDGE_CONSUMERS is required/);
    expect(run.stderr).toMatch(/Run "openchs-bridge serve --help" for every variable\.\n$/);
    expect(run.stderr).not.toMatch(/^\s+at /m);
    // Like `serve`, it reads a .env file in its working directory.
    writeFileSync(join(dir, ".env"), "BRIDGE_CONSUMERS=not-json\n");
    const withFile = start(dir);
    expect(withFile.status).toBe(1);
    expect(withFile.stderr).toMatch(/^openchs-bridge: BRIDGE_CONSUMERS /);
    expect(withFile.stderr).not.toContain("BRIDGE_CONSUMERS is required");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);
