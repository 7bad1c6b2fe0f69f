import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createWalSync } from "./wal-sync";

describe("createWalSync", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "wal-sync-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** A sync we can hold open, to see who waits for which. */
  const controlledSync = () => {
    const calls: Array<{ finish: (error?: Error) => void }> = [];
    const sync = () =>
      new Promise<void>((resolve, reject) => calls.push({ finish: (error) => (error ? reject(error) : resolve()) }));
    return { calls, sync };
  };
  const state = (promise: Promise<void>) => {
    const seen = { settled: false, error: undefined as unknown };
    promise.then(
      () => (seen.settled = true),
      (error: unknown) => Object.assign(seen, { settled: true, error }),
    );
    return seen;
  };
  const turn = () => new Promise((resolve) => setImmediate(resolve));

  it("settles a commit only after a sync that started after it; commits during a sync share the next one", async () => {
    const { calls, sync } = controlledSync();
    const wal = createWalSync(join(dir, "db-wal"), sync);
    const first = state(wal.afterCommit());
    await turn();
    expect(calls).toHaveLength(1);
    // Committed while the first sync runs: that sync may have started before their write.
    const second = state(wal.afterCommit());
    const third = state(wal.afterCommit());
    calls[0]!.finish();
    await turn();
    expect(first.settled).toBe(true);
    expect(second.settled).toBe(false);
    expect(third.settled).toBe(false);
    expect(calls).toHaveLength(2);
    calls[1]!.finish();
    await turn();
    expect(second.settled && third.settled).toBe(true);
    expect(calls).toHaveLength(2);
  });

  it("rejects the commits a failed sync covered, and syncs again for the next ones", async () => {
    const { calls, sync } = controlledSync();
    const wal = createWalSync(join(dir, "db-wal"), sync);
    const failed = state(wal.afterCommit());
    await turn();
    calls[0]!.finish(new Error("EIO"));
    await turn();
    expect(failed.error).toEqual(new Error("EIO"));
    const next = state(wal.afterCommit());
    await turn();
    calls[1]!.finish();
    await turn();
    expect(next).toEqual({ settled: true, error: undefined });
  });

  it("syncs a real file with fdatasync, and closes it", async () => {
    const path = join(dir, "db-wal");
    writeFileSync(path, "frames");
    const wal = createWalSync(path);
    await expect(wal.afterCommit()).resolves.toBeUndefined();
    await wal.close();
  });

  it("reports a log file that cannot be opened", async () => {
    const wal = createWalSync(join(dir, "missing-wal"));
    await expect(wal.afterCommit()).rejects.toMatchObject({ code: "ENOENT" });
  });
});
