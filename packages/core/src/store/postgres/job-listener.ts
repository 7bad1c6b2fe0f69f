import type { Client } from "pg";
import { quoteIdentifier } from "./schema";

/** A connection that listens for "jobs were enqueued" notifications and calls its subscribers. */
export interface JobListener {
  /** Adds a listener; the first one opens the listening connection, removing the last closes it. */
  subscribe(listener: () => void): () => void;
  /** Closes the listening connection and stops reconnecting. */
  stop(): Promise<void>;
}

/** How the listener gets a new, not yet connected client, and the channel it listens on. */
export type ListenerConnect = () => Promise<{ client: Client; channel: string }>;

export interface JobListenerOptions {
  /** First wait before reconnecting after the connection was lost (doubles up to `retryMaxMs`). */
  retryMinMs?: number | undefined;
  retryMaxMs?: number | undefined;
}

/**
 * `LISTEN`s on one dedicated connection (a pooled one would be handed to other work). When the
 * connection fails or ends, it reconnects with a doubling wait; after every (re)connection it calls
 * the listeners once, since jobs may have been enqueued while nobody was listening.
 */
export function createJobListener(connect: ListenerConnect, options: JobListenerOptions = {}): JobListener {
  const retryMinMs = options.retryMinMs ?? 250;
  const retryMaxMs = options.retryMaxMs ?? 30_000;
  const listeners = new Set<() => void>();
  let running = false;
  let client: Client | undefined;
  let failures = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  /** Bumped by every stop: a connection attempt of an earlier run closes what it opened. */
  let generation = 0;

  const notify = (): void => {
    for (const listener of [...listeners]) {
      try {
        listener();
      } catch {
        // A listener's failure is its own; the others still hear of the jobs.
      }
    }
  };

  const scheduleReconnect = (run: number): void => {
    if (!running || run !== generation || timer) return;
    const delay = Math.min(retryMaxMs, retryMinMs * 2 ** failures);
    failures++;
    timer = setTimeout(() => {
      timer = undefined;
      void open(run);
    }, delay);
    (timer as { unref?: () => void }).unref?.();
  };

  const open = async (run: number): Promise<void> => {
    if (!running || run !== generation) return;
    let c: Client | undefined;
    try {
      const { client: created, channel } = await connect();
      c = created;
      let lost = false;
      const onLost = (): void => {
        if (lost) return;
        lost = true;
        if (client === created) client = undefined;
        created.end().catch(() => undefined);
        scheduleReconnect(run);
      };
      // Without an "error" listener a dropped connection would crash the process.
      created.on("error", onLost);
      created.on("end", onLost);
      created.on("notification", (message) => {
        if (message.channel === channel) notify();
      });
      await created.connect();
      await created.query(`LISTEN ${quoteIdentifier(channel)}`);
      if (!running || run !== generation || lost) {
        await created.end().catch(() => undefined);
        return;
      }
      client = created;
      failures = 0;
      notify();
    } catch {
      c?.end().catch(() => undefined);
      scheduleReconnect(run);
    }
  };

  const stop = async (): Promise<void> => {
    running = false;
    generation++;
    clearTimeout(timer);
    timer = undefined;
    const current = client;
    client = undefined;
    await current?.end().catch(() => undefined);
  };

  return {
    subscribe(listener) {
      listeners.add(listener);
      if (!running) {
        running = true;
        failures = 0;
        void open(generation);
      }
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0 && running) void stop();
      };
    },
    stop,
  };
}
