/** Time, as a port: tests drive hunting deadlines and retry schedules with a manual clock. */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock that only moves when told to (tests). */
export function manualClock(start = Date.parse("2026-01-01T00:00:00Z")): Clock & {
  advance(ms: number): void;
  set(ms: number): void;
} {
  let now = start;
  return {
    now: () => now,
    advance: (ms) => {
      now += ms;
    },
    set: (ms) => {
      now = ms;
    },
  };
}
