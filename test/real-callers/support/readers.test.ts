import { describe, expect, it } from "vitest";
import { loadFixture, renderFixture } from "./fixtures";
import { readAsFlow } from "./flow-webhook";
import { goUnmarshal } from "./go-json";
import type { RawAnswer } from "./http-exchange";
import { readClose, readHistory, readOpen, readReopen } from "./mailroom-reading";
import { phpJsonValue } from "./php-json";

const answer = (status: number, text: string): RawAnswer => ({ status, headers: {}, body: Buffer.from(text), text });

/** The suite's readings of answers must be as strict as the callers, or a pass means nothing. */
describe("the callers' readings", () => {
  it("Go: a wrong type fails, null and unknown keys do not, keys match case-insensitively", () => {
    expect(goUnmarshal('{"messages_received":"3"}', { messages_received: "int" }).ok).toBe(false);
    expect(goUnmarshal('{"messages_received":2.5}', { messages_received: "int" }).ok).toBe(false);
    expect(goUnmarshal('{"created_at":"2026-03-02 09:00:00"}', { created_at: "time" }).ok).toBe(false);
    expect(goUnmarshal("[]", { status: "string" }).ok).toBe(false);
    expect(
      goUnmarshal('{"External_ID":"t_1","x":1,"status":null}', { external_id: "string", status: "string" }),
    ).toEqual({ ok: true, value: { external_id: "t_1" } });
  });

  it("mailroom: open needs external_id, or a 409 with details.external_id; close takes 409; reopen no 4xx", () => {
    expect(readOpen(answer(201, '{"external_id":"t_1","created_at":"2026-03-02T09:00:00.5Z"}')).ok).toBe(true);
    expect(readOpen(answer(201, '{"status":"open"}')).ok).toBe(false);
    expect(readOpen(answer(409, '{"error":"ticket_already_open","details":{"external_id":"t_1"}}')).ok).toBe(true);
    expect(readOpen(answer(409, '{"error":{"code":"conflict","external_id":"t_1"}}')).ok).toBe(false);
    expect(readHistory(answer(200, '{"messages_received":"2"}')).ok).toBe(false);
    expect(readClose(answer(409, "{}")).ok).toBe(true);
    expect(readReopen(answer(422, '{"error":"reopen_not_supported"}'))).toMatchObject({
      ok: false,
      error: expect.stringContaining("reopen_not_supported"),
    });
  });

  it('PHP: json_decode(…, true)["token"] is "" for anything but a JSON object with a token', () => {
    expect(phpJsonValue('{"token":"abc"}', "token")).toBe("abc");
    expect(phpJsonValue('{"token":123}', "token")).toBe("123");
    expect(phpJsonValue('{"data":{"token":"abc"}}', "token")).toBe("");
    expect(phpJsonValue("<html>", "token")).toBe("");
  });

  it("flow: 2xx is Success; @webhook is the JSON object, else empty", () => {
    expect(readAsFlow(answer(201, '{"token":"t"}'))).toEqual({
      exit: "Success",
      webhook: { token: "t" },
      keptAsResult: true,
    });
    expect(readAsFlow(answer(302, "moved"))).toEqual({ exit: "Failure", webhook: {}, keptAsResult: false });
    expect(readAsFlow(answer(200, JSON.stringify({ x: "y".repeat(10_000) }))).keptAsResult).toBe(false);
  });

  it("fixtures: exact bytes, Content-Length counted in bytes, unfilled or unsafe placeholders refused", () => {
    const fixture = loadFixture("flow-webhook-message");
    const values = { host: "127.0.0.1:1", api_key: "obk_abc" };
    const rendered = renderFixture(fixture, values);
    const text = rendered.bytes.toString("utf8");
    expect(text.startsWith("POST /api/chat/ HTTP/1.1\r\nHost: 127.0.0.1:1\r\nUser-Agent: RapidProMailroom/")).toBe(
      true,
    );
    expect(text).toContain(`\r\nContent-Length: ${rendered.body.length}\r\n`);
    expect(rendered.body.length).toBeGreaterThan(fixture.body.length); // the emoji is 4 bytes
    expect(() => renderFixture(fixture, { host: "x" })).toThrow(/\{\{api_key\}\}/);
    expect(() =>
      renderFixture(loadFixture("helpline-php-login"), {
        host: "x",
        "helpline.username": 'a"b',
        "helpline.password": "p",
      }),
    ).toThrow(/escaping/);
  });
});
