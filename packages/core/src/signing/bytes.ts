/**
 * Byte helpers of the signing module: raw bodies, base64, hex and HMAC-SHA256 over WebCrypto
 * (`crypto.subtle`), so they run unchanged on Node, Deno, Bun and workers.
 */

const encoder = new TextEncoder();

/** A request body as it came off the wire: what every signature is computed over. */
export type RawBody = string | Uint8Array | ArrayBuffer;

/** The message every signing helper throws when handed something other than the raw body. */
export const RAW_BODY_REQUIRED =
  "pass the raw request body (await req.text() or await req.arrayBuffer(); with express, express.raw()), " +
  "not the parsed JSON: the signature covers the exact bytes that were sent, and JSON.stringify of a parsed " +
  "object rarely reproduces them (key order, spacing, unicode escapes)";

/**
 * The bytes of a raw body. Throws a `TypeError` naming the usual mistake when given anything else
 * (typically the object `JSON.parse` or a framework's body parser produced).
 */
export function rawBodyBytes(body: unknown, fn = "signature helper"): Uint8Array<ArrayBuffer> {
  if (typeof body === "string") return encoder.encode(body);
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (ArrayBuffer.isView(body)) {
    // Uint8Array, Node's Buffer (a Uint8Array), DataView…: copy, so the bytes sit in a plain ArrayBuffer.
    return new Uint8Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer);
  }
  const got = body === null ? "null" : Array.isArray(body) ? "an array" : typeof body;
  throw new TypeError(`${fn}: body must be a string, Uint8Array or ArrayBuffer, got ${got}: ${RAW_BODY_REQUIRED}`);
}

/** UTF-8 bytes of a string. */
export function utf8(text: string): Uint8Array<ArrayBuffer> {
  return encoder.encode(text);
}

/** Concatenates byte arrays. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Standard base64 (with padding) of bytes. */
export function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/** Decodes standard base64 (padding optional); undefined when the text is not base64. */
export function fromBase64(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return undefined;
  try {
    const binary = atob(text);
    const out = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
    return out;
  } catch {
    return undefined;
  }
}

/** Lowercase hex of bytes. */
export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Decodes hex (either case); undefined when the text is not an even number of hex digits. */
export function fromHex(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) return undefined;
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(text.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** HMAC-SHA256 of `data` under `key`, with WebCrypto. */
export async function hmacSha256(key: Uint8Array<ArrayBuffer>, data: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  const cryptoKey = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", cryptoKey, data));
}
