import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Loop, type LoopBody } from "./loop";

/** A body whose rounds are counted and, on demand, held open until released. */
function body(delay = 1000) {
  let hold: Promise<void> | undefined;
  let release = () => {};
  const b: {
    rounds: number;
    errors: unknown[];
    delay: number | undefined;
    fail: boolean;
    holdNext(): void;
    release(): void;
    body: LoopBody;
  } = {
    rounds: 0,
    errors: [] as unknown[],
    delay: delay as number | undefined,
    fail: false,
    holdNext() {
      hold = new Promise((resolve) => {
        release = resolve;
      });
    },
    release: () => release(),
    body: {
      tick: async () => {
        b.rounds++;
        const h = hold;
        hold = undefined;
        if (h) await h;
        if (b.fail) throw new Error("boom");
      },
      nextDelay: async () => b.delay,
      onError: (error: unknown) => b.errors.push(error),
    },
  };
  return b;
}

describe("Loop", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("runs a round at start, then one per delay, and none after stop", async () => {
    const b = body(1000);
    const loop = new Loop(b.body);
    loop.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(b.rounds).toBe(1);
    await vi.advanceTimersByTimeAsync(1000);
    expect(b.rounds).toBe(2);
    await vi.advanceTimersByTimeAsync(2500);
    expect(b.rounds).toBe(4);
    await loop.stop();
    expect(loop.running).toBe(false);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(b.rounds).toBe(4);
  });

  it("starting twice runs one loop", async () => {
    const b = body(1000);
    const loop = new Loop(b.body);
    loop.start();
    loop.start();
    await vi.advanceTimersByTimeAsync(1000);
    expect(b.rounds).toBe(2);
    await loop.stop();
  });

  it("a wake runs a round now, and does nothing once stopped", async () => {
    const b = body(60_000);
    const loop = new Loop(b.body);
    loop.wake();
    await vi.advanceTimersByTimeAsync(0);
    expect(b.rounds).toBe(0);
    loop.start();
    await vi.advanceTimersByTimeAsync(0);
    loop.wake();
    await vi.advanceTimersByTimeAsync(0);
    expect(b.rounds).toBe(2);
    await loop.stop();
    loop.wake();
    await vi.advanceTimersByTimeAsync(0);
    expect(b.rounds).toBe(2);
  });

  it("a wake during a round is dropped, or with rerunWhenWoken runs one more round right after", async () => {
    for (const [rerunWhenWoken, expected] of [
      [false, 1],
      [true, 2],
    ] as const) {
      const b = body(60_000);
      const loop = new Loop(b.body, { rerunWhenWoken });
      b.holdNext();
      loop.start();
      await vi.advanceTimersByTimeAsync(0);
      loop.wake();
      loop.wake();
      b.release();
      await vi.advanceTimersByTimeAsync(0);
      expect(b.rounds).toBe(expected);
      await loop.stop();
    }
  });

  it("stop waits for the round in flight", async () => {
    const b = body(1000);
    const loop = new Loop(b.body);
    b.holdNext();
    loop.start();
    await vi.advanceTimersByTimeAsync(0);
    let stopped = false;
    const stopping = loop.stop().then(() => {
      stopped = true;
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(stopped).toBe(false);
    b.release();
    await stopping;
    expect(stopped).toBe(true);
  });

  it("sleeps until woken when the body gives no delay", async () => {
    const b = body();
    b.delay = undefined;
    const loop = new Loop(b.body);
    loop.start();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(b.rounds).toBe(1);
    loop.wake();
    await vi.advanceTimersByTimeAsync(0);
    expect(b.rounds).toBe(2);
    await loop.stop();
  });

  it("reports a round that throws and goes on", async () => {
    const b = body(1000);
    b.fail = true;
    const loop = new Loop(b.body);
    loop.start();
    await vi.advanceTimersByTimeAsync(1000);
    expect(b.rounds).toBe(2);
    expect(b.errors).toHaveLength(2);
    expect((b.errors[0] as Error).message).toBe("boom");
    await loop.stop();
  });
});
