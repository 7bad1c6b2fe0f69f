import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { decodeStandardWebhookSecret, signStandardWebhook, verifyStandardWebhook } from "./standard-webhooks";
import { WebhookVerificationError } from "./verification-error";

// The case list of the Standard Webhooks JavaScript library's own tests, run against this verifier.
const SECRET = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const ID = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const PAYLOAD = '{"test": 2432232314}';
const NOW = Date.parse("2026-03-01T12:00:00Z");
const TOLERANCE_MS = 300_000;

/** An independent signer (node:crypto), so the verifier is not only checked against itself. */
function nodeSign(secret: string, id: string, timestampS: number, payload: string): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  return createHmac("sha256", key).update(`${id}.${timestampS}.${payload}`).digest("base64");
}

function testPayload(timestampMs = NOW) {
  const timestamp = Math.floor(timestampMs / 1000);
  return {
    payload: PAYLOAD,
    headers: {
      "webhook-id": ID,
      "webhook-timestamp": String(timestamp),
      "webhook-signature": `v1,${nodeSign(SECRET, ID, timestamp, PAYLOAD)}`,
    } as Record<string, string>,
  };
}

async function failure(promise: Promise<unknown>): Promise<WebhookVerificationError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(WebhookVerificationError);
  return error as WebhookVerificationError;
}

const verify = (headers: Record<string, string> | Headers, payload: unknown = PAYLOAD, secrets = [SECRET]) =>
  verifyStandardWebhook({ headers, body: payload as string, secrets, now: NOW });

describe("verifyStandardWebhook: the Standard Webhooks case list", () => {
  it("refuses an empty or non-base64 secret", async () => {
    expect(() => decodeStandardWebhookSecret("")).toThrow(TypeError);
    expect(() => decodeStandardWebhookSecret(undefined as unknown as string)).toThrow(TypeError);
    expect(() => decodeStandardWebhookSecret("whsec_not base64!")).toThrow(/whsec_/);
    const t = testPayload();
    await expect(verify(t.headers, PAYLOAD, [])).rejects.toThrow(TypeError);
  });

  it("missing id", async () => {
    const t = testPayload();
    delete t.headers["webhook-id"];
    const error = await failure(verify(t.headers));
    expect([error.code, error.header]).toEqual(["missing_header", "webhook-id"]);
  });

  it("missing timestamp", async () => {
    const t = testPayload();
    delete t.headers["webhook-timestamp"];
    const error = await failure(verify(t.headers));
    expect([error.code, error.header]).toEqual(["missing_header", "webhook-timestamp"]);
  });

  it("invalid timestamp", async () => {
    const t = testPayload();
    t.headers["webhook-timestamp"] = "hello";
    expect((await failure(verify(t.headers))).code).toBe("invalid_timestamp");
  });

  it("missing signature", async () => {
    const t = testPayload();
    delete t.headers["webhook-signature"];
    const error = await failure(verify(t.headers));
    expect([error.code, error.header]).toEqual(["missing_header", "webhook-signature"]);
  });

  it("invalid signature", async () => {
    const t = testPayload();
    t.headers["webhook-signature"] = "v1,dawfeoifkpqwoekfpqoekf";
    expect((await failure(verify(t.headers))).code).toBe("invalid_signature");
  });

  it("partial signature", async () => {
    const t = testPayload();
    t.headers["webhook-signature"] = t.headers["webhook-signature"]!.slice(0, 8);
    expect((await failure(verify(t.headers))).code).toBe("invalid_signature");
    t.headers["webhook-signature"] = "v1,";
    expect((await failure(verify(t.headers))).code).toBe("invalid_signature");
  });

  it("valid signature", async () => {
    const t = testPayload();
    await expect(verify(t.headers)).resolves.toEqual({ id: ID, timestamp: Math.floor(NOW / 1000) });
  });

  it("old timestamp", async () => {
    const t = testPayload(NOW - TOLERANCE_MS - 1000);
    expect((await failure(verify(t.headers))).code).toBe("timestamp_too_old");
  });

  it("new (future) timestamp", async () => {
    const t = testPayload(NOW + TOLERANCE_MS + 1000);
    expect((await failure(verify(t.headers))).code).toBe("timestamp_too_new");
  });

  it("accepts timestamps at the edge of the tolerance, both ways", async () => {
    await expect(verify(testPayload(NOW - TOLERANCE_MS).headers)).resolves.toBeDefined();
    await expect(verify(testPayload(NOW + TOLERANCE_MS).headers)).resolves.toBeDefined();
  });

  it("multiple signatures with one valid", async () => {
    const t = testPayload();
    t.headers["webhook-signature"] = [
      "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
      "v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
      t.headers["webhook-signature"],
      "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
    ].join(" ");
    await expect(verify(t.headers)).resolves.toBeDefined();
  });

  it("only v1 entries count: the right signature under another version prefix is refused", async () => {
    const t = testPayload();
    t.headers["webhook-signature"] = t.headers["webhook-signature"]!.replace(/^v1,/, "v2,");
    expect((await failure(verify(t.headers))).code).toBe("invalid_signature");
    t.headers["webhook-signature"] = t.headers["webhook-signature"]!.replace(/^v2,/, "");
    expect((await failure(verify(t.headers))).code).toBe("invalid_signature");
  });

  it("verifies with the secret with and without the whsec_ prefix", async () => {
    const t = testPayload();
    await expect(verify(t.headers, PAYLOAD, [SECRET])).resolves.toBeDefined();
    await expect(verify(t.headers, PAYLOAD, [`whsec_${SECRET}`])).resolves.toBeDefined();
  });

  it("sign matches the library's published vector", async () => {
    const headers = await signStandardWebhook({
      id: ID,
      timestamp: new Date(1614265330 * 1000),
      body: PAYLOAD,
      secret: `whsec_${SECRET}`,
    });
    expect(headers).toEqual({
      "webhook-id": ID,
      "webhook-timestamp": "1614265330",
      "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    });
  });
});

describe("verifyStandardWebhook: beyond the case list", () => {
  it("supports key rotation: any listed secret verifies, an unlisted one does not", async () => {
    const next = Buffer.from("another secret of 32 bytes......").toString("base64");
    const signed = await signStandardWebhook({
      id: ID,
      timestamp: Math.floor(NOW / 1000),
      body: PAYLOAD,
      secret: next,
    });
    await expect(verify({ ...signed }, PAYLOAD, [SECRET, `whsec_${next}`])).resolves.toBeDefined();
    expect((await failure(verify({ ...signed }, PAYLOAD, [SECRET]))).code).toBe("invalid_signature");
  });

  it("refuses a body changed by one byte, or re-serialised", async () => {
    const t = testPayload();
    expect((await failure(verify(t.headers, '{"test": 2432232315}'))).code).toBe("invalid_signature");
    expect((await failure(verify(t.headers, JSON.stringify(JSON.parse(PAYLOAD))))).code).toBe("invalid_signature");
  });

  it("takes the body as string, Uint8Array, Buffer or ArrayBuffer alike", async () => {
    const t = testPayload();
    const bytes = new TextEncoder().encode(PAYLOAD);
    for (const body of [bytes, Buffer.from(PAYLOAD), bytes.buffer]) {
      await expect(verifyStandardWebhook({ headers: t.headers, body, secrets: [SECRET], now: NOW })).resolves.toEqual({
        id: ID,
        timestamp: Math.floor(NOW / 1000),
      });
    }
  });

  it("names the usual mistake when given the parsed JSON", async () => {
    const t = testPayload();
    const parsed = JSON.parse(PAYLOAD) as unknown;
    await expect(verify(t.headers, parsed)).rejects.toThrow(/raw request body \(await req\.text\(\)/);
    await expect(signStandardWebhook({ id: ID, timestamp: 1, body: parsed as string, secret: SECRET })).rejects.toThrow(
      TypeError,
    );
  });

  it("reads Web Headers and any header-name case", async () => {
    const t = testPayload();
    await expect(verify(new Headers(t.headers))).resolves.toBeDefined();
    const upper = Object.fromEntries(Object.entries(t.headers).map(([k, v]) => [k.toUpperCase(), v]));
    await expect(verify(upper)).resolves.toBeDefined();
  });

  it("never puts a signature or the secret in the error", async () => {
    const t = testPayload();
    const sent = t.headers["webhook-signature"]!;
    const error = await failure(verify(t.headers, PAYLOAD, [Buffer.from("wrong").toString("base64")]));
    const text = `${error.message} ${String(error)} ${JSON.stringify(error)}`;
    expect(text).not.toContain(sent.slice(3, 20));
    expect(text).not.toContain(SECRET);
  });
});
