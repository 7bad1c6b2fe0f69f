import { validationError } from "../errors";

/**
 * Where a reply goes in RapidPro: a contact by its UUID, or a URN (`scheme:path`). RapidPro's
 * `broadcasts` and `flow_starts` take either (`contacts` or `urns`); `messages.json` (nyaruka ≥ 8.2)
 * takes a contact UUID only.
 */
export type ReplyAddress = { kind: "contact"; uuid: string } | { kind: "urn"; urn: string };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** `scheme:path`, RapidPro's URN form (`tel:+254…`, `whatsapp:254…`, `telegram:…`, `ext:…`). */
const URN = /^([A-Za-z][A-Za-z0-9]*):(.+)$/s;
/** What people put inside phone numbers: spaces, dashes, dots, parentheses. */
const PHONE_SEPARATORS = /[\s\-().]/g;
/** Schemes whose path is a phone number, written with separators by people. */
const PHONE_SCHEMES = new Set(["tel", "whatsapp"]);
/** E.164 allows at most 15 digits; 3 keeps short codes and test numbers (the Postman `23343411`). */
const PHONE = /^\+?\d{3,15}$/;

/**
 * Decides how RapidPro reaches a conversation's `chat_sender`, the one rule every reply and flow
 * start follows:
 * - a contact UUID (any case; sent lowercase, as RapidPro stores it) → `{kind: "contact"}`;
 * - a URN `scheme:path` → `{kind: "urn"}`, the scheme lowercased; a `tel:` path loses its spaces,
 *   dashes, dots and parentheses (and so does a `whatsapp:` one);
 * - a bare phone number (digits, optionally a leading `+` or `00`, separators as above; also a JSON
 *   number such as the documented `23343411`) → the URN `tel:+<digits>`.
 * Anything else throws a `RapidProError` `validation` on `field` (default `contact`), whose message
 * never repeats the address: addresses stay out of logs and errors.
 */
export function parseReplyAddress(address: string | number, field = "contact"): ReplyAddress {
  const raw = typeof address === "number" && Number.isSafeInteger(address) && address >= 0 ? String(address) : address;
  if (typeof raw !== "string" || raw.trim() === "") {
    throw validationError(field, `${field} must be a RapidPro contact UUID, a URN (scheme:path) or a phone number`);
  }
  const value = raw.trim();
  if (UUID.test(value)) return { kind: "contact", uuid: value.toLowerCase() };
  const urn = URN.exec(value);
  if (urn) {
    const scheme = urn[1]!.toLowerCase();
    const path = PHONE_SCHEMES.has(scheme) ? urn[2]!.replace(PHONE_SEPARATORS, "") : urn[2]!.trim();
    if (path === "" || /\s/.test(path)) {
      throw validationError(field, `${field} is a URN with an empty or malformed path`);
    }
    return { kind: "urn", urn: `${scheme}:${path}` };
  }
  const phone = value.replace(PHONE_SEPARATORS, "").replace(/^00(?=\d)/, "+");
  if (PHONE.test(phone)) return { kind: "urn", urn: `tel:+${phone.replace(/^\+/, "")}` };
  throw validationError(field, `${field} must be a RapidPro contact UUID, a URN (scheme:path) or a phone number`);
}

/**
 * The recipients field of a broadcast or a flow start for a reply address: `{contacts: [uuid]}` or
 * `{urns: [urn]}` (see {@link parseReplyAddress}).
 */
export function replyRecipients(address: string | number | ReplyAddress): { contacts: [string] } | { urns: [string] } {
  const parsed = typeof address === "object" ? address : parseReplyAddress(address);
  return parsed.kind === "contact" ? { contacts: [parsed.uuid] } : { urns: [parsed.urn] };
}
