/**
 * The families of RapidPro servers the client speaks to. They differ in what the bridge needs:
 * - `nyaruka`: nyaruka/rapidpro ≥ 8.2. `POST messages.json` sends one message; ids are uuids.
 * - `v7`: RapidPro 7.x up to 8.1: `messages` is read-only, so texts go out as broadcasts; integer ids.
 * - `weni`: Weni's fork (`weni-ai/flows`, v7-based): as `v7`, with up to 1000 recipients per broadcast.
 */
export type RapidProFlavour = "v7" | "weni" | "nyaruka";

/** Every flavour, for validating configuration. */
export const RAPIDPRO_FLAVOURS: readonly RapidProFlavour[] = ["v7", "weni", "nyaruka"];

/** Endpoints only Weni's fork lists at its API root (`whastapp_broadcasts` is spelled so there). */
const WENI_ONLY = ["whastapp_broadcasts", "whatsapp_broadcasts", "products", "contacts_lean"];

/**
 * Reads the flavour from the API root (`GET /api/v2.json`, a map of endpoint name → URL). The
 * `media` endpoint arrived in RapidPro 8.2 together with `POST messages.json`, so its presence means
 * `nyaruka`; Weni's own endpoints mean `weni`; anything else is `v7` (broadcasts only), which is
 * also the safe answer for a root the client cannot read: every flavour accepts broadcasts.
 */
export function flavourFromRoot(root: Record<string, unknown>): RapidProFlavour {
  if ("media" in root) return "nyaruka";
  if (WENI_ONLY.some((name) => name in root)) return "weni";
  return "v7";
}

/** Most recipients (contacts, URNs or groups, each) a broadcast may name on this flavour. */
export function broadcastLimit(flavour: RapidProFlavour): number {
  return flavour === "weni" ? 1000 : 100;
}
