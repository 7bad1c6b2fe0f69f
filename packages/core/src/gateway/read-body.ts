import { BridgeError } from "../errors/bridge-error";
import { bufferedBody } from "./buffered-body";

/** A request body as the handler needs it: the raw bytes (for signatures) and the parsed value. */
export interface ReadBody {
  raw: Uint8Array;
  value: unknown;
}

/**
 * The deepest nesting of arrays and objects a JSON body may have. Real bodies nest a few levels;
 * thousands of levels are parsed fine but then overflow the stack of whatever walks them later
 * (serialising the conversation into the store), so they are refused here, before parsing.
 */
export const MAX_JSON_DEPTH = 64;

/**
 * The media types a JSON body may be sent with: `application/json`, any `application/*+json`,
 * `text/plain` (Postman's "raw (text)", which the documented close request uses), or none at all.
 * Parameters such as `charset` are allowed.
 */
const JSON_TYPE = /^\s*(application\/([\w.-]+\+)?json|text\/plain)\s*(;|$)/i;
const FORM_TYPE = /^\s*application\/x-www-form-urlencoded\s*(;|$)/i;
const ACCEPTED = "application/json (or application/*+json, or text/plain holding JSON)";

/**
 * Reads a body, enforcing the size limit while reading (a 2 GiB body is refused after `maxBytes`,
 * not buffered) and the content type (see `JSON_TYPE`; anything else is 415). An empty JSON body
 * reads as `{}` when `allowEmpty` (the legacy close call sends none).
 */
export async function readBody(
  request: Request,
  options: { maxBytes: number; allowForm?: boolean; allowEmpty?: boolean },
): Promise<ReadBody> {
  const type = request.headers.get("content-type") ?? "";
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > options.maxBytes) throw tooLarge(options.maxBytes);
  const raw = await readLimited(request, options.maxBytes);
  const isForm = options.allowForm === true && FORM_TYPE.test(type);
  const isJson = type.trim() === "" || JSON_TYPE.test(type);
  if (!isJson && !isForm) {
    const form = options.allowForm ? ", or application/x-www-form-urlencoded" : "";
    throw new BridgeError("unsupported_media_type", `expected Content-Type: ${ACCEPTED}${form}`);
  }
  if (raw.byteLength === 0 && options.allowEmpty && isJson) return { raw, value: {} };
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(raw);
  } catch {
    throw new BridgeError("invalid_json", "the body is not valid UTF-8");
  }
  if (isForm) return { raw, value: Object.fromEntries(new URLSearchParams(text)) };
  if (exceedsDepth(text, MAX_JSON_DEPTH)) {
    throw new BridgeError("invalid_json", `the body is nested deeper than ${MAX_JSON_DEPTH} levels`);
  }
  try {
    return { raw, value: JSON.parse(text) as unknown };
  } catch {
    throw new BridgeError("invalid_json", "the body is not valid JSON");
  }
}

/** Whether JSON text nests arrays and objects deeper than `max` (one pass, strings skipped; no parsing). */
export function exceedsDepth(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

async function readLimited(request: Request, maxBytes: number): Promise<Uint8Array> {
  const buffered = bufferedBody(request);
  if (buffered) {
    if (buffered.byteLength > maxBytes) throw tooLarge(maxBytes);
    return buffered;
  }
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        await reader.cancel().catch(() => {});
        throw tooLarge(maxBytes);
      }
      chunks.push(value);
    }
  } catch (error) {
    if (error instanceof BridgeError) throw error;
    throw new BridgeError("invalid_json", "the body could not be read");
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

const tooLarge = (max: number) => new BridgeError("payload_too_large", `the body is larger than ${max} bytes`);
