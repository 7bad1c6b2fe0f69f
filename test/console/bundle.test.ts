import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

/**
 * The console's script is committed bundled (packages/core/src/console/script.generated.ts), so the
 * core serves it without a bundler and tests run against sources. This fails when app.ts changed and
 * `npm run build:console` was not run: the page would serve old code.
 */
describe("the console's bundled script", () => {
  it("is what app.ts bundles to today", async () => {
    const root = fileURLToPath(new URL("../../", import.meta.url));
    const result = await new Promise<{ code: number; out: string }>((resolve) => {
      execFile(
        process.execPath,
        ["--import", "tsx", "scripts/build-console.ts", "--check"],
        { cwd: root, timeout: 60_000 },
        (error, stdout, stderr) => resolve({ code: error ? 1 : 0, out: `${stdout}${stderr}` }),
      );
    });
    expect(result.out).toContain("is up to date");
    expect(result.code).toBe(0);
  }, 60_000);
});
