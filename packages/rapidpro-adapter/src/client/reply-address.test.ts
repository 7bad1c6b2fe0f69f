import { describe, expect, it } from "vitest";
import { RapidProError } from "../errors";
import { parseReplyAddress, replyRecipients } from "./reply-address";

const UUID = "5d76d86b-3bb9-4d5a-b822-c9d86f5d8e4f";

describe("parseReplyAddress", () => {
  it.each([
    [UUID, { kind: "contact", uuid: UUID }],
    [UUID.toUpperCase(), { kind: "contact", uuid: UUID }],
    [`  ${UUID}\n`, { kind: "contact", uuid: UUID }],
    ["whatsapp:254700000001", { kind: "urn", urn: "whatsapp:254700000001" }],
    ["tel:+254700000001", { kind: "urn", urn: "tel:+254700000001" }],
    ["tel:+254 700 000-001", { kind: "urn", urn: "tel:+254700000001" }],
    ["TEL: +254 (700) 000.001", { kind: "urn", urn: "tel:+254700000001" }],
    ["whatsapp:254 700 000 001", { kind: "urn", urn: "whatsapp:254700000001" }],
    ["telegram:123456789", { kind: "urn", urn: "telegram:123456789" }],
    ["mailto:child@example.org", { kind: "urn", urn: "mailto:child@example.org" }],
    ["+254700000001", { kind: "urn", urn: "tel:+254700000001" }],
    ["254700000001", { kind: "urn", urn: "tel:+254700000001" }],
    ["+254 700-000-001", { kind: "urn", urn: "tel:+254700000001" }],
    ["00254700000001", { kind: "urn", urn: "tel:+254700000001" }],
    // The documented Postman example sends chat_sender as a JSON number; the gateway keeps its decimal string.
    ["23343411", { kind: "urn", urn: "tel:+23343411" }],
    [23343411, { kind: "urn", urn: "tel:+23343411" }],
  ] as const)("%j → %j", (address, expected) => {
    expect(parseReplyAddress(address)).toEqual(expected);
  });

  it.each([
    "",
    "   ",
    "contact-1",
    "5d76d86b-3bb9-4d5a-b822",
    "12",
    "+1234567890123456",
    "tel:",
    "tel:  ",
    "ext:two words",
    "++254700000001",
    "254700000001x",
  ])("refuses %j as validation on the field, without repeating the address", (address) => {
    let error: unknown;
    try {
      parseReplyAddress(address, "chat_sender");
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RapidProError);
    const e = error as RapidProError;
    expect([e.code, e.field]).toEqual(["validation", "chat_sender"]);
    if (address.trim() !== "") expect(e.message).not.toContain(address.trim());
  });

  it.each([-1, 1.5, Number.NaN, 2 ** 60])("refuses the number %s", (address) => {
    expect(() => parseReplyAddress(address)).toThrow(RapidProError);
  });
});

describe("replyRecipients", () => {
  it("gives contacts for a UUID and urns otherwise", () => {
    expect(replyRecipients(UUID.toUpperCase())).toEqual({ contacts: [UUID] });
    expect(replyRecipients("whatsapp:254700000001")).toEqual({ urns: ["whatsapp:254700000001"] });
    expect(replyRecipients("+254 700 112 233")).toEqual({ urns: ["tel:+254700112233"] });
    expect(replyRecipients({ kind: "urn", urn: "tel:+1" })).toEqual({ urns: ["tel:+1"] });
  });
});
