/**
 * The durable retry schedule: how long a job waits after a failed round of attempts, and when it
 * is given up. Pure, so it is tested alone (Stripe's `_shouldRetry`, see docs/STYLE).
 */

/** The steps of the default schedule, ms; the bridge appends `maxWaitMs`, which then repeats. */
export const DEFAULT_RETRY_STEPS: readonly number[] = [5_000, 30_000, 120_000, 300_000, 600_000, 1_800_000];
/** Default retry horizon: 72 hours, so an outage of a weekend loses nothing. */
export const DEFAULT_RETRY_HORIZON_MS = 72 * 3_600_000;
/** Default longest wait between two rounds: 1 hour. */
export const DEFAULT_RETRY_MAX_WAIT_MS = 3_600_000;
/** Default jitter of the default schedule: each wait ±10 %, so jobs failed together do not retry together. */
export const DEFAULT_RETRY_JITTER = 0.1;

export interface RetryPolicy {
  /** Waits, ms, one per failed round; the last one repeats until the horizon. Empty: no durable retry. */
  schedule: readonly number[];
  /** Every wait is capped at this (before jitter and Retry-After). */
  maxWaitMs: number;
  /** Time after the first failed round (`firstAttemptAt`) when a job is dead-lettered at its next failure. */
  horizonMs: number;
  /** Fraction each wait is jittered by, both ways (0.1 = ±10 %); 0 for exact waits. */
  jitter: number;
}

export interface NextWaitInput {
  /** Failed rounds so far, this one included (1 after the first failed round). */
  round: number;
  /** Epoch ms of the first failed round (this one's `now` on the first). */
  firstAttemptAt: number;
  /** Epoch ms of this failure. */
  now: number;
  /** What the upstream asked for (`Retry-After`): the wait is never shorter. */
  retryAfterMs?: number | undefined;
  policy: RetryPolicy;
  /** In [0, 1). Default `Math.random`. */
  random?: (() => number) | undefined;
}

/**
 * The wait (ms) before the next round, or `"dead"` when the horizon has passed since the first failed
 * round (or the schedule is empty). A `Retry-After` longer than the step is waited in full, even
 * past the horizon: the job then gets that one last round.
 */
export function nextWait(input: NextWaitInput): number | "dead" {
  const { schedule, maxWaitMs, horizonMs, jitter } = input.policy;
  if (schedule.length === 0) return "dead";
  if (input.now - input.firstAttemptAt >= horizonMs) return "dead";
  const step = Math.min(schedule[Math.min(input.round, schedule.length) - 1] ?? 0, maxWaitMs);
  const random = input.random ?? Math.random;
  const jittered = Math.round(step * (1 + jitter * (2 * random() - 1)));
  return Math.max(jittered, input.retryAfterMs ?? 0);
}

/** The schedule's total when used once, ms: the span of today's bounded schedule. */
export function scheduleSpan(schedule: readonly number[], maxWaitMs: number): number {
  return schedule.reduce((sum, ms) => sum + Math.min(ms, maxWaitMs), 0);
}
