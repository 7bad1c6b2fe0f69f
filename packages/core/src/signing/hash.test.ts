import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { sha256HexSync } from "./hash";

async function webCrypto(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Buffer.from(digest).toString("hex");
}

describe("sha256HexSync", () => {
  it("matches the FIPS 180-4 test vectors", () => {
    expect(sha256HexSync("")).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(sha256HexSync("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(sha256HexSync("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")).toBe(
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
    );
    expect(sha256HexSync("a".repeat(1_000_000))).toBe(
      "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
    );
  });

  it("matches WebCrypto at every padding boundary and for non-ASCII text", async () => {
    for (const length of [1, 54, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000]) {
      const text = "x".repeat(length);
      expect(sha256HexSync(text), `length ${length}`).toBe(await webCrypto(text));
    }
    for (const text of ["ñandú", "Я не в безопасности", "😀 help", "\u0000\uffff"]) {
      expect(sha256HexSync(text)).toBe(await webCrypto(text));
    }
  });

  it("matches WebCrypto for arbitrary strings", async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: "binary", maxLength: 300 }), async (text) => {
        expect(sha256HexSync(text)).toBe(await webCrypto(text));
      }),
      { numRuns: 300 },
    );
  });

  it("keeps no state between calls", () => {
    const first = sha256HexSync("first");
    sha256HexSync("y".repeat(500));
    expect(sha256HexSync("first")).toBe(first);
  });
});
