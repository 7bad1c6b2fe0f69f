import { describe, expect, it } from "vitest";
import { bridgeHarness, CHATBOT_USER, clientMessage } from "../../test-support/bridge-harness";
import { exceedsDepth, MAX_JSON_DEPTH } from "./read-body";

const nested = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`;

describe("JSON nesting depth", () => {
  it("counts arrays and objects, not brackets inside strings", () => {
    expect(exceedsDepth(nested(MAX_JSON_DEPTH), MAX_JSON_DEPTH)).toBe(false);
    expect(exceedsDepth(nested(MAX_JSON_DEPTH + 1), MAX_JSON_DEPTH)).toBe(true);
    expect(exceedsDepth(`{"a":"${"[".repeat(500)}","b":"\\"[[[["}`, 2)).toBe(false);
    expect(exceedsDepth('{"a":{"b":[{"c":1}]}}', 3)).toBe(true);
    expect(exceedsDepth('{"a":{"b":[{"c":1}]}}', 4)).toBe(false);
  });

  it("refuses a message nested thousands deep with 400, where it used to be stored unreadable (503 on read)", async () => {
    const h = bridgeHarness();
    const token = await h.login(CHATBOT_USER);
    for (const depth of [3000, 100_000]) {
      const body = JSON.stringify(clientMessage(`deep${depth}`, "hello", { metadata: { m: 1 } })).replace(
        '{"m":1}',
        `{"m":${nested(depth)}}`,
      );
      const res = await h.call("POST", "chat/", { token, raw: body, headers: { "content-type": "application/json" } });
      expect(res.status).toBe(400);
      expect(res.json.error).toEqual({
        code: "invalid_json",
        message: `the body is nested deeper than ${MAX_JSON_DEPTH} levels`,
      });
      expect((await h.call("GET", `chat/deep${depth}/`, { token })).status).toBe(404);
    }
    const ok = JSON.stringify(clientMessage("shallow", "hello", { metadata: { a: { b: { c: [1, [2]] } } } }));
    expect(
      (await h.call("POST", "chat/", { token, raw: ok, headers: { "content-type": "application/json" } })).status,
    ).toBe(201);
    expect((await h.call("GET", "chat/shallow/", { token })).status).toBe(200);
  });
});
