import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DatabaseSync } from "node:sqlite";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { beginImmediate } from "./begin-immediate";
import { openDatabase } from "./sqlite-store";

describe("beginImmediate", () => {
  let dir: string;
  let holder: DatabaseSync;
  let waiter: DatabaseSync;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "begin-immediate-"));
    const path = join(dir, "bridge.db");
    holder = openDatabase(path, "FULL", 5000);
    waiter = openDatabase(path, "FULL", 5000);
  });

  afterEach(() => {
    for (const db of [holder, waiter]) if (db.isOpen) db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const busyTimeout = (db: DatabaseSync) => db.prepare("PRAGMA busy_timeout").get()?.timeout;

  it("takes the write lock at once when nobody holds it, leaving sqlite's own busy wait as it was", async () => {
    await beginImmediate(waiter, 5000);
    expect(waiter.isTransaction).toBe(true);
    expect(busyTimeout(waiter)).toBe(5000);
    waiter.exec("ROLLBACK");
  });

  it("waits for another connection's write lock without blocking the event loop", async () => {
    holder.exec("BEGIN IMMEDIATE");
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 1);
    const begun = beginImmediate(waiter, 5000);
    // The event loop runs while the lock is held: a blocking busy handler would not let it.
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(waiter.isTransaction).toBe(false);
    holder.exec("COMMIT");
    await begun;
    clearInterval(ticker);
    expect(ticks).toBeGreaterThan(5);
    expect(waiter.isTransaction).toBe(true);
    expect(busyTimeout(waiter)).toBe(5000);
    waiter.exec("ROLLBACK");
  });

  it("gives up with sqlite's busy error after busyTimeoutMs", async () => {
    holder.exec("BEGIN IMMEDIATE");
    const started = Date.now();
    await expect(beginImmediate(waiter, 50)).rejects.toMatchObject({ errcode: 5 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(50);
    expect(waiter.isTransaction).toBe(false);
    expect(busyTimeout(waiter)).toBe(50);
    holder.exec("ROLLBACK");
  });
});
