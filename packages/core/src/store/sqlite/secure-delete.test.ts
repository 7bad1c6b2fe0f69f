import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { bridgeHarness, CHATBOT_USER, clientMessage } from "../../../test-support/bridge-harness";
import { createSqliteStore } from "./sqlite-store";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** The database file and its write-ahead log, as bytes an attacker with the disk would read. */
function fileBytes(file: string): string {
  return [file, `${file}-wal`]
    .filter((f) => existsSync(f))
    .map((f) => readFileSync(f).toString("latin1"))
    .join("");
}

describe("sqlite: erased and purged text leaves the file", () => {
  it.each(["erase", "purge"] as const)("%s: no byte of the text is left in the database or its log", async (how) => {
    const dir = mkdtempSync(join(tmpdir(), "bridge-secure-delete-"));
    dirs.push(dir);
    const file = join(dir, "bridge.db");
    const h = bridgeHarness({ store: createSqliteStore(file) });
    const token = await h.login(CHATBOT_USER);
    const secret = `SENTINEL-TEXT-${how}-${"x".repeat(40)}`;
    for (const session of ["gone", "kept"]) {
      const body = clientMessage(session, `${secret} ${session}`);
      expect((await h.call("POST", "chat/", { token, body })).status).toBe(201);
    }
    await h.bridge.runDue();
    expect((await h.call("POST", "chat/gone/close/", { token, body: { chat_source: "WENI" } })).status).toBe(200);
    await h.bridge.runDue();
    expect(fileBytes(file)).toContain(`${secret} gone`);

    if (how === "erase") expect(await h.bridge.conversations.erase("gone")).toBe(true);
    else {
      const purged = await h.bridge.conversations.purgeClosedBefore(new Date(h.clock.now() + 1000));
      expect(purged).toMatchObject({ conversations: 1 });
    }

    // While the store is still open (the gateway running), and after it closes.
    expect(fileBytes(file)).not.toContain(`${secret} gone`);
    expect(fileBytes(file)).toContain(`${secret} kept`);
    await h.store.close();
    expect(fileBytes(file)).not.toContain(`${secret} gone`);
  });
});
