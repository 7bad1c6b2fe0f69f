import type { Conversation, OutboxJob } from "../domain/model";
import type { ClaimQuery } from "./store";

/** Argument checks every `Store` implementation applies the same way. */

export function assertPositiveInteger(value: number, name: string): void {
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer`);
}

export function assertClaimQuery(query: ClaimQuery): void {
  assertPositiveInteger(query.limit, "limit");
  if (!Number.isFinite(query.now)) throw new RangeError("now must be a finite number");
  if (!Number.isFinite(query.leaseMs) || query.leaseMs <= 0) throw new RangeError("leaseMs must be positive");
  if (query.owner === "") throw new RangeError("owner must not be empty");
}

/** A dead-lettered job (absent state = pending). */
export function isDead(job: OutboxJob): boolean {
  return job.state === "dead";
}

/** The dead-letter listing order: newest `deadAt` first, then highest id. */
export function compareDeadLetters(a: OutboxJob, b: OutboxJob): number {
  return (b.deadAt ?? 0) - (a.deadAt ?? 0) || b.id - a.id;
}

export function assertNextVersion(conversation: Conversation, expectedVersion: number): void {
  if (conversation.version !== expectedVersion + 1) {
    throw new Error("updateConversation: conversation.version must be expectedVersion + 1");
  }
}

/**
 * A promise-chain mutex: each call runs after every call queued before it has settled, whether it
 * resolved or threw.
 */
export function createSerialQueue(): <T>(fn: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(fn: () => Promise<T>): Promise<T> => {
    const run = tail.then(fn);
    tail = run.catch(() => undefined);
    return run;
  };
}
