import type { DatabaseSync } from "node:sqlite";

/** The real timers, taken at load: a test's fake timers must not stall the store. */
const realSetTimeout = setTimeout;
const realSetImmediate: (callback: () => void) => void =
  typeof setImmediate === "function" ? setImmediate : (callback) => realSetTimeout(callback, 0);

/** sqlite's SQLITE_BUSY (its extended codes share the low byte). */
const SQLITE_BUSY = 5;

/**
 * `BEGIN IMMEDIATE` (take the write lock) without blocking the event loop while another connection
 * holds it: another thread of this process (serve's delivery thread) or another process.
 * `node:sqlite` is synchronous, so sqlite's own busy handler would sleep the whole thread, HTTP
 * included, 1 to 100 ms at a time; here each attempt fails at once (`busy_timeout` 0 for it) and the
 * next one waits on a timer, so the thread serves requests meanwhile (their transactions join the
 * next commit group). Gives up, throwing sqlite's busy error, after `busyTimeoutMs` as sqlite would.
 */
export async function beginImmediate(db: DatabaseSync, busyTimeoutMs: number): Promise<void> {
  const giveUpAt = Date.now() + busyTimeoutMs;
  for (let attempt = 0; ; attempt++) {
    db.exec("PRAGMA busy_timeout = 0");
    try {
      db.exec("BEGIN IMMEDIATE");
      return;
    } catch (error) {
      if (!isBusy(error) || Date.now() >= giveUpAt) throw error;
    } finally {
      // Other statements (reads during a checkpoint, migrations) keep sqlite's own wait.
      db.exec(`PRAGMA busy_timeout = ${busyTimeoutMs}`);
    }
    // The holder runs a group of transactions (a few ms): look again every millisecond. A refused
    // attempt costs microseconds; a longer sleep would leave the lock idle after it is freed.
    await new Promise<void>((resolve) => (attempt === 0 ? realSetImmediate(resolve) : realSetTimeout(resolve, 1)));
  }
}

function isBusy(error: unknown): boolean {
  const errcode = (error as { errcode?: unknown } | null)?.errcode;
  return typeof errcode === "number" && (errcode & 0xff) === SQLITE_BUSY;
}
