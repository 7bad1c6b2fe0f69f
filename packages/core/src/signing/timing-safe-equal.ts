/**
 * Compares two byte arrays in time that depends only on their lengths, never on where they differ.
 * Every secret comparison of the project (passwords, tokens, signatures) goes through this.
 */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  // Compare against itself when lengths differ, so the loop runs the same way either way.
  const other = a.length === b.length ? b : a;
  let diff = a.length ^ b.length;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ other[i]!;
  return diff === 0;
}

const encoder = new TextEncoder();

/** `timingSafeEqual` over the UTF-8 bytes of two strings. */
export function timingSafeEqualStrings(a: string, b: string): boolean {
  return timingSafeEqual(encoder.encode(a), encoder.encode(b));
}
