import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { linkedSignal } from "./linked-signal";

describe("linkedSignal", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("aborts with a source's reason when any source aborts", () => {
    const a = new AbortController();
    const b = new AbortController();
    const linked = linkedSignal([a.signal, b.signal], 1000);
    b.abort(new Error("lease lost"));
    expect(linked.signal.aborted).toBe(true);
    expect(linked.signal.reason).toEqual(new Error("lease lost"));
    expect(linked.timedOut).toBe(false);
  });

  it("times out with a TimeoutError and says so", () => {
    const linked = linkedSignal([new AbortController().signal], 1000);
    vi.advanceTimersByTime(999);
    expect(linked.signal.aborted).toBe(false);
    vi.advanceTimersByTime(1);
    expect(linked.signal.aborted).toBe(true);
    expect((linked.signal.reason as DOMException).name).toBe("TimeoutError");
    expect(linked.timedOut).toBe(true);
  });

  it("after dispose, neither its timer nor its sources abort it, and no timer is left", () => {
    const source = new AbortController();
    const linked = linkedSignal([source.signal], 1000);
    linked.dispose();
    expect(vi.getTimerCount()).toBe(0);
    source.abort();
    vi.advanceTimersByTime(5000);
    expect(linked.signal.aborted).toBe(false);
  });

  it("starts aborted when a source already is", () => {
    const source = new AbortController();
    source.abort(new Error("stopping"));
    const linked = linkedSignal([source.signal], 1000);
    expect(linked.signal.reason).toEqual(new Error("stopping"));
    expect(vi.getTimerCount()).toBe(0);
  });
});
