import { describe, expect, it } from "vitest";
import { timingSafeEqual, timingSafeEqualStrings } from "./timing-safe-equal";

describe("timingSafeEqual", () => {
  it("is true only for identical bytes", () => {
    expect(timingSafeEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 3]))).toBe(true);
    expect(timingSafeEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 4]))).toBe(false);
    expect(timingSafeEqual(new Uint8Array([0, 2, 3]), new Uint8Array([1, 2, 3]))).toBe(false);
  });
  it("is false for different lengths, including a prefix", () => {
    expect(timingSafeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2, 3]))).toBe(false);
    expect(timingSafeEqual(new Uint8Array([]), new Uint8Array([0]))).toBe(false);
    expect(timingSafeEqualStrings("secret", "secret ")).toBe(false);
  });
  it("compares strings by their UTF-8 bytes", () => {
    expect(timingSafeEqualStrings("pässwörd", "pässwörd")).toBe(true);
    expect(timingSafeEqualStrings("pässwörd", "passwörd")).toBe(false);
  });
});
