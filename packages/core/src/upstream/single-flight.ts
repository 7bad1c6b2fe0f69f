/**
 * Shares one in-flight promise per key among all concurrent callers (a `Map` of pending promises,
 * cleared in `finally`), so 100 concurrent requests needing a login cause exactly one login.
 */
export function createSingleFlight<T>(): (key: string, run: () => Promise<T>) => Promise<T> {
  const pending = new Map<string, Promise<T>>();
  return (key, run) => {
    const existing = pending.get(key);
    if (existing) return existing;
    const promise = (async () => {
      try {
        return await run();
      } finally {
        pending.delete(key);
      }
    })();
    pending.set(key, promise);
    return promise;
  };
}
