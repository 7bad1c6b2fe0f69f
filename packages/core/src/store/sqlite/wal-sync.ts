import { type FileHandle, open } from "node:fs/promises";

/** Makes committed transactions durable; see {@link createWalSync}. */
export interface WalSync {
  /**
   * Resolves once everything committed before the call is on disk (an `fdatasync` of the log that
   * started after the call); rejects when that sync fails.
   */
  afterCommit(): Promise<void>;
  /** Resolves when no sync is running or asked for (never rejects: failures go to `afterCommit`'s callers). */
  idle(): Promise<void>;
  /** Waits for the sync in flight and closes the file. */
  close(): Promise<void>;
}

/**
 * `syncFile` replaces the `fdatasync` of `walPath` (tests).
 *
 * Syncs the write-ahead log to disk off the event loop. Under `synchronous=FULL` sqlite syncs the log
 * inside `COMMIT`, and `node:sqlite` being synchronous, that blocks the whole thread for the sync
 * (0.3 ms to several ms on a virtual disk), HTTP included, with the write lock held. The store commits
 * under `synchronous=NORMAL` instead (the log written, not synced) and settles nobody until this
 * sync, on libuv's thread pool, has made the log durable: the same promise as FULL (a transaction
 * acknowledged is on disk), while the thread goes on serving and the next commit group forms.
 * Callers that arrive while a sync runs share the next one (group commit for the sync itself).
 */
export function createWalSync(walPath: string, syncFile?: () => Promise<void>): WalSync {
  let file: Promise<FileHandle> | undefined;
  let requested = 0;
  let running: Promise<void> | undefined;
  let waiters: { ticket: number; resolve: () => void; reject: (error: unknown) => void }[] = [];

  // The log file lives as long as any connection has the database open (this store's, at least).
  const sync =
    syncFile ??
    (async () => {
      file ??= open(walPath, "r");
      await (await file).datasync();
    });

  const drain = async () => {
    for (;;) {
      // Cleared here, not in a `finally` a turn later: a caller arriving now starts a new drain.
      if (waiters.length === 0) {
        running = undefined;
        return;
      }
      // Every commit that asked before this sync starts is covered by it.
      const covered = requested;
      let failure: { error: unknown } | undefined;
      try {
        await sync();
      } catch (error) {
        failure = { error };
        // A failed handle is opened again for the next sync.
        file = undefined;
      }
      const settled = waiters.filter((w) => w.ticket <= covered);
      waiters = waiters.filter((w) => w.ticket > covered);
      for (const w of settled) {
        if (failure) w.reject(failure.error);
        else w.resolve();
      }
    }
  };

  return {
    afterCommit() {
      const ticket = ++requested;
      const done = new Promise<void>((resolve, reject) => waiters.push({ ticket, resolve, reject }));
      running ??= drain();
      return done;
    },
    idle() {
      return running ?? Promise.resolve();
    },
    async close() {
      await running;
      const handle = file;
      file = undefined;
      if (handle) await (await handle).close();
    },
  };
}
