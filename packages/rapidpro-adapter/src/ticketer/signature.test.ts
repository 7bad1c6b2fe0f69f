import { createHmac } from "node:crypto";
import { WebhookVerificationError } from "@openchs-bridge/core";
import { describe, expect, it } from "vitest";
import { signTicketerCallback, verifyTicketerCallback } from "./signature";

const SECRET = "mailroom-webhook-secret";
const BODY = '{"external_id":"t_0f4d2c8a","message_external_id":"m1","direction":"outgoing","text":"hi"}';
const NOW = Date.parse("2026-05-20T14:35:00Z");
const hmacHex = (secret: string, body: string) => createHmac("sha256", secret).update(body).digest("hex");

async function failure(promise: Promise<unknown>): Promise<WebhookVerificationError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(WebhookVerificationError);
  return error as WebhookVerificationError;
}

const headersAt = (timestamp: string | undefined, signature = `sha256=${hmacHex(SECRET, BODY)}`) => {
  const headers: Record<string, string> = { "X-Webhook-Signature": signature };
  if (timestamp !== undefined) headers["X-Webhook-Timestamp"] = timestamp;
  return headers;
};

describe("signTicketerCallback", () => {
  it("signs the raw body as sha256=<hex HMAC-SHA256(secret, body)> with an RFC 3339 timestamp", async () => {
    const headers = await signTicketerCallback({ body: BODY, secret: SECRET, now: NOW + 123 });
    expect(headers).toEqual({
      "X-Webhook-Signature": `sha256=${hmacHex(SECRET, BODY)}`,
      "X-Webhook-Timestamp": "2026-05-20T14:35:00Z",
    });
  });

  it("names the usual mistake when given the parsed JSON, and refuses an empty secret", async () => {
    await expect(signTicketerCallback({ body: JSON.parse(BODY) as string, secret: SECRET })).rejects.toThrow(
      /not the parsed JSON/,
    );
    await expect(signTicketerCallback({ body: BODY, secret: "" })).rejects.toThrow(TypeError);
  });
});

describe("verifyTicketerCallback", () => {
  const verify = (headers: Record<string, string>, extra: Partial<Parameters<typeof verifyTicketerCallback>[0]> = {}) =>
    verifyTicketerCallback({ headers, body: BODY, secret: SECRET, now: NOW, ...extra });

  it("accepts what signTicketerCallback produced", async () => {
    const headers = await signTicketerCallback({ body: BODY, secret: SECRET, now: NOW });
    await expect(verify({ ...headers })).resolves.toEqual({ timestampMs: NOW });
  });

  it("accepts sha256=<hex>, bare hex and upper-case hex", async () => {
    const hex = hmacHex(SECRET, BODY);
    await expect(verify(headersAt("2026-05-20T14:35:00Z", `sha256=${hex}`))).resolves.toBeDefined();
    await expect(verify(headersAt("2026-05-20T14:35:00Z", hex))).resolves.toBeDefined();
    await expect(verify(headersAt("2026-05-20T14:35:00Z", `sha256=${hex.toUpperCase()}`))).resolves.toBeDefined();
  });

  it("refuses a wrong secret, a changed body, a truncated or a non-hex signature", async () => {
    const ts = "2026-05-20T14:35:00Z";
    expect((await failure(verify(headersAt(ts), { secret: "other" }))).code).toBe("invalid_signature");
    expect((await failure(verify(headersAt(ts), { body: BODY.replace("hi", "ho") }))).code).toBe("invalid_signature");
    const hex = hmacHex(SECRET, BODY);
    expect((await failure(verify(headersAt(ts, `sha256=${hex.slice(0, 40)}`)))).code).toBe("invalid_signature");
    expect((await failure(verify(headersAt(ts, "sha256=zz")))).code).toBe("invalid_signature");
    expect((await failure(verify(headersAt(ts, "sha256=")))).code).toBe("invalid_signature");
  });

  it("accepts any secret of a rotation list", async () => {
    const headers = headersAt("2026-05-20T14:35:00Z", `sha256=${hmacHex("new-secret", BODY)}`);
    await expect(verify(headers, { secret: [SECRET, "new-secret"] })).resolves.toBeDefined();
    expect((await failure(verify(headers, { secret: [SECRET] }))).code).toBe("invalid_signature");
  });

  it("reads the timestamp as RFC 3339 (with offset or fraction) or unix seconds", async () => {
    await expect(verify(headersAt("2026-05-20T16:35:00+02:00"))).resolves.toEqual({ timestampMs: NOW });
    await expect(verify(headersAt("2026-05-20T14:35:00.250Z"))).resolves.toEqual({ timestampMs: NOW + 250 });
    await expect(verify(headersAt(String(NOW / 1000)))).resolves.toEqual({ timestampMs: NOW });
  });

  it("refuses timestamps over 5 minutes old or ahead, and unreadable ones", async () => {
    expect((await failure(verify(headersAt("2026-05-20T14:29:59Z")))).code).toBe("timestamp_too_old");
    expect((await failure(verify(headersAt("2026-05-20T14:40:01Z")))).code).toBe("timestamp_too_new");
    await expect(verify(headersAt("2026-05-20T14:30:00Z"))).resolves.toBeDefined();
    expect((await failure(verify(headersAt("yesterday")))).code).toBe("invalid_timestamp");
    expect((await failure(verify(headersAt("2026-05-20")))).code).toBe("invalid_timestamp");
  });

  it("tolerates a missing timestamp as mailroom v1 does, unless requireTimestamp", async () => {
    await expect(verify(headersAt(undefined))).resolves.toEqual({ timestampMs: undefined });
    const error = await failure(verify(headersAt(undefined), { requireTimestamp: true }));
    expect([error.code, error.header]).toEqual(["missing_header", "x-webhook-timestamp"]);
  });

  it("requires the signature header", async () => {
    const error = await failure(verify({ "X-Webhook-Timestamp": "2026-05-20T14:35:00Z" }));
    expect([error.code, error.header]).toEqual(["missing_header", "x-webhook-signature"]);
  });

  it("verifies raw bytes and names the usual mistake for a parsed body", async () => {
    const headers = headersAt("2026-05-20T14:35:00Z");
    await expect(verify(headers, { body: new TextEncoder().encode(BODY) })).resolves.toBeDefined();
    await expect(verify(headers, { body: JSON.parse(BODY) as string })).rejects.toThrow(/await req\.text\(\)/);
  });
});
