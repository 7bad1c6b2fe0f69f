/**
 * Base64 of the UTF-8 bytes of `text`, without `Buffer`: TextEncoder, then `btoa` over a binary
 * string built in chunks (so a long message does not overflow the argument list).
 */
export function utf8ToBase64(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  const chunk = 0x8000;
  for (let i = 0; i < bytes.length; i += chunk) {
    binary += String.fromCharCode(...bytes.subarray(i, i + chunk));
  }
  return btoa(binary);
}
