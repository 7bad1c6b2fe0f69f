import type { RetryPolicy } from "@openchs-bridge/core/upstream";
import { HttpResponse, http } from "msw";
import { setupServer } from "msw/node";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { GATEWAY_ORIGIN, HELPLINE, HELPLINE_PASSWORD, HELPLINE_USER, helplineLogin } from "./__fixtures__/servers";
import { createBridgeApiClient } from "./bridge-api/client";
import type { OpenChsError } from "./errors";
import { createOpenChsHelplineClient } from "./helpline/client";

/**
 * Retry schedules, driven by fake timers: attempts are counted at given times. The schedule itself
 * is the shared executor's (ky + the retry policy of `@openchs-bridge/core`); these tests check
 * that both clients use it as documented.
 */

const server = setupServer();
beforeAll(() => server.listen({ onUnhandledFrame: "error" }));
afterEach(() => {
  server.resetHandlers();
  vi.useRealTimers();
  vi.restoreAllMocks();
});
afterAll(() => server.close());

const POLICY: Partial<RetryPolicy> = { limit: 3, minDelayMs: 1_000, factor: 2, maxDelayMs: 10_000, jitter: false };

let t0 = 0;
let attempts: number[] = [];
let state: { logins: number; sessions: string[] };
beforeEach(() => {
  vi.useFakeTimers();
  t0 = Date.now();
  attempts = [];
  state = { logins: 0, sessions: [] };
});

const helpline = (retry: Partial<RetryPolicy> | false = POLICY, timeoutMs = 15_000) =>
  createOpenChsHelplineClient({
    baseUrl: HELPLINE,
    username: HELPLINE_USER,
    password: HELPLINE_PASSWORD,
    retry,
    timeoutMs,
  });

/** `msg/` answering each attempt from a script (the last entry repeats), recording attempt times. */
function scriptedMsg(script: Array<number | (() => Response | Promise<Response>)>) {
  return http.post(`${HELPLINE}msg/`, () => {
    attempts.push(Date.now() - t0);
    const step = script[Math.min(attempts.length - 1, script.length - 1)]!;
    if (typeof step === "function") return step();
    return step < 300
      ? HttpResponse.json({ messages: [["1"]] }, { status: step })
      : new HttpResponse(null, { status: step });
  });
}

function send(client = helpline()) {
  const outcome = client.sendMessage({ session_id: "c1", message_id: "m1", from: "x", message: "hi" }).then(
    (value) => ({ value }),
    (error: unknown) => ({ error: error as OpenChsError }),
  );
  return outcome;
}

/**
 * Fake timers turn a zero-delay timer set during a tick into 1 ms, and the HTTP stack sets a few:
 * so times are checked with a small tolerance (`SLACK`), far below any delay of the schedule.
 */
const SLACK = 10;

function expectSchedule(actual: number[], expected: number[]) {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((at, i) => {
    expect(Math.abs(at - expected[i]!)).toBeLessThanOrEqual(SLACK);
  });
}

/** Attempts made by each time (ms since the start), advancing fake time step by step. */
async function attemptsAt(times: number[]): Promise<number[]> {
  const seen: number[] = [];
  let now = 0;
  for (const at of times) {
    await vi.advanceTimersByTimeAsync(at - now);
    now = at;
    seen.push(attempts.length);
  }
  return seen;
}

describe("retry schedule (helpline msg/, which carries message_id)", () => {
  it("retries 503 with exponential backoff: attempts at 0, 1 s, 3 s", async () => {
    server.use(helplineLogin(state), scriptedMsg([503, 503, 201]));
    const done = send();
    expect(await attemptsAt([0, 1_000 - SLACK, 1_000 + SLACK, 3_000 - SLACK, 3_000 + SLACK])).toEqual([1, 1, 2, 2, 3]);
    expect(await done).toMatchObject({ value: { status: 201 } });
    expectSchedule(attempts, [0, 1_000, 3_000]);
  });

  it("is bounded: after the limit the error is unavailable and retriable (for the bridge's outbox)", async () => {
    server.use(helplineLogin(state), scriptedMsg([500]));
    const done = send();
    await vi.advanceTimersByTimeAsync(60_000);
    const { error } = (await done) as { error: OpenChsError };
    expectSchedule(attempts, [0, 1_000, 3_000, 7_000]);
    expect(error.code).toBe("unavailable");
    expect(error.status).toBe(500);
    expect(error.retriable).toBe(true);
  });

  it("caps the delay at maxDelayMs", async () => {
    server.use(helplineLogin(state), scriptedMsg([502]));
    const done = send(helpline({ ...POLICY, limit: 4, maxDelayMs: 2_500 }));
    await vi.advanceTimersByTimeAsync(60_000);
    await done;
    expectSchedule(attempts, [0, 1_000, 3_000, 5_500, 8_000]);
  });

  it("honours Retry-After on 429 instead of the backoff, and reports it when giving up", async () => {
    server.use(
      helplineLogin(state),
      scriptedMsg([() => new HttpResponse(null, { status: 429, headers: { "Retry-After": "5" } })]),
    );
    const done = send(helpline({ ...POLICY, limit: 1 }));
    expect(await attemptsAt([0, 5_000 - SLACK, 5_000 + SLACK])).toEqual([1, 1, 2]);
    const { error } = (await done) as { error: OpenChsError };
    expect(error.code).toBe("rate_limited");
    expect(error.retryAfterMs).toBe(5_000);
    expect(error.retriable).toBe(true);
  });

  it("does not wait for a Retry-After longer than maxRetryAfterMs: fails at once with retryAfterMs", async () => {
    server.use(
      helplineLogin(state),
      scriptedMsg([() => new HttpResponse(null, { status: 503, headers: { "Retry-After": "600" } })]),
    );
    const done = send(helpline({ ...POLICY, maxRetryAfterMs: 30_000 }));
    await vi.advanceTimersByTimeAsync(0);
    const { error } = (await done) as { error: OpenChsError };
    expect(attempts).toEqual([0]);
    expect(error.code).toBe("unavailable");
    expect(error.retryAfterMs).toBe(600_000);
  });

  it("retries 408, 500, 502, 503, 504 and connection failures", async () => {
    server.use(helplineLogin(state), scriptedMsg([408, 500, 502, 504, () => HttpResponse.error(), 201]));
    const done = send(helpline({ ...POLICY, limit: 5, maxDelayMs: 1_000 }));
    await vi.advanceTimersByTimeAsync(10_000);
    expect(await done).toMatchObject({ value: { status: 201 } });
    expect(attempts).toHaveLength(6);
  });

  it.each([400, 403, 404, 409, 412, 422])("never retries %i", async (status) => {
    server.use(helplineLogin(state), scriptedMsg([status, 201]));
    const done = send();
    await vi.advanceTimersByTimeAsync(60_000);
    const { error } = (await done) as { error: OpenChsError };
    expect(attempts).toEqual([0]);
    expect(error.status).toBe(status);
    expect(error.retriable).toBe(false);
  });

  it("a per-attempt timeout aborts the attempt and retries; in the end the error is timeout", async () => {
    server.use(helplineLogin(state), scriptedMsg([() => new Promise<Response>(() => {})]));
    const done = send(helpline({ ...POLICY, limit: 1 }, 2_000));
    expect(await attemptsAt([0, 3_000 - SLACK, 3_000 + SLACK])).toEqual([1, 1, 2]); // 2 s timeout + 1 s backoff
    await vi.advanceTimersByTimeAsync(2_000);
    const { error } = (await done) as { error: OpenChsError };
    expect(error.code).toBe("timeout");
    expect(error.retriable).toBe(true);
  });

  it("applies full jitter: each delay is drawn from [0, computed delay]", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0.25);
    server.use(helplineLogin(state), scriptedMsg([503, 503, 201]));
    const done = send(helpline({ ...POLICY, jitter: true }));
    await vi.advanceTimersByTimeAsync(10_000);
    await done;
    expectSchedule(attempts, [0, 250, 750]);
  });

  it("retry: false sends once", async () => {
    server.use(helplineLogin(state), scriptedMsg([503, 201]));
    const done = send(helpline(false));
    await vi.advanceTimersByTimeAsync(60_000);
    expect((await done) as { error: OpenChsError }).toHaveProperty("error.code", "unavailable");
    expect(attempts).toEqual([0]);
  });

  it("POSTs without an idempotency key (case records) are sent once even on 503", async () => {
    server.use(
      helplineLogin(state),
      http.post(`${HELPLINE}reporters/`, () => {
        attempts.push(Date.now() - t0);
        return new HttpResponse(null, { status: 503 });
      }),
    );
    const done = helpline()
      .reporters.create({ contact_fname: "R" })
      .catch((e: unknown) => e as OpenChsError);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(((await done) as OpenChsError).code).toBe("unavailable");
    expect(attempts).toEqual([0]);
  });

  it("a login answered 503 is retried on the schedule, then the message goes through", async () => {
    let loginCalls = 0;
    server.use(
      http.post(HELPLINE, () => {
        loginCalls++;
        if (loginCalls < 3) return new HttpResponse(null, { status: 503 });
        state.sessions.push("s");
        return HttpResponse.json({ ss: [["s"]] });
      }),
      scriptedMsg([201]),
    );
    const done = send();
    expect(await attemptsAt([0, 3_000 - SLACK, 3_000 + SLACK])).toEqual([0, 0, 1]);
    expect(await done).toMatchObject({ value: { status: 201 } });
    expect(loginCalls).toBe(3);
  });
});

describe("retry schedule (gateway)", () => {
  const API = `${GATEWAY_ORIGIN}/api/`;
  const gateway = () => createBridgeApiClient({ baseUrl: GATEWAY_ORIGIN, token: "t", retry: POLICY });
  const chat503 = http.post(`${API}chat/`, () => {
    attempts.push(Date.now() - t0);
    return new HttpResponse(null, { status: 503 });
  });

  it("POST chat/ with message_id is retried", async () => {
    server.use(chat503);
    const done = gateway()
      .sendChat({ chat_session: "s1", chat_source: "WENI", chat_sender: "c", chat_message: "x", message_id: "m1" })
      .catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(60_000);
    await done;
    expectSchedule(attempts, [0, 1_000, 3_000, 7_000]);
  });

  it("POST chat/ without message_id is sent once (it could be stored twice)", async () => {
    server.use(chat503);
    const done = gateway()
      .sendChat({ chat_session: "s1", chat_source: "WENI", chat_sender: "c", chat_message: "x" })
      .catch((e: unknown) => e as OpenChsError);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(((await done) as OpenChsError).code).toBe("unavailable");
    expect(attempts).toEqual([0]);
  });

  it("close is sent once; ack and GETs are retried", async () => {
    const count: Record<string, number> = { close: 0, ack: 0, get: 0 };
    server.use(
      http.post(`${API}chat/s1/close/`, () => {
        count.close!++;
        return new HttpResponse(null, { status: 502 });
      }),
      http.post(`${API}chat/s1/ack/`, () => {
        count.ack!++;
        return new HttpResponse(null, { status: 502 });
      }),
      http.get(`${API}chat/s1/`, () => {
        count.get!++;
        return new HttpResponse(null, { status: 502 });
      }),
    );
    const client = gateway();
    const all = Promise.allSettled([
      client.closeChat("s1", { chat_source: "WENI" }),
      client.ack("s1", { message_id: "m1", status: "read", chat_source: "HELPLINE" }),
      client.getConversation("s1"),
    ]);
    await vi.advanceTimersByTimeAsync(60_000);
    await all;
    expect(count).toEqual({ close: 1, ack: 4, get: 4 });
  });
});
