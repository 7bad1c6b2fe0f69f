import { readFileSync } from "node:fs";
import { BridgeError } from "@openchs-bridge/core";
import { describe, expect, it } from "vitest";
import { parseFlowWebhook, RapidProWebhookError, toChatBody } from "./parse";

const fixture = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(new URL(`./__fixtures__/${name}.json`, import.meta.url), "utf8")) as Record<string, unknown>;

const CONTACT = "5d76d86b-3bb9-4d5a-b822-c9d86f5d8e4f";
const RUN = "d2f852ec-7b4e-457f-ae7f-f8b243c49ff5";
const FLOW = "f5901b62-ba76-4003-9c62-72fdacc1b7b7";
const INPUT = "9bf91c2b-ce58-4cef-aacc-281e03f69ab5";

function failure(fn: () => unknown): RapidProWebhookError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(RapidProWebhookError);
    expect(error).toBeInstanceOf(BridgeError);
    return error as RapidProWebhookError;
  }
  throw new Error("expected a RapidProWebhookError");
}

describe("parseFlowWebhook: real payloads", () => {
  it("reads the flow editor's default body (no input: no text)", () => {
    expect(parseFlowWebhook(fixture("editor-default"))).toEqual({
      shape: "editor",
      contactUuid: CONTACT,
      urn: "whatsapp:254700112233",
      name: "Neema",
      attachments: [],
      flowUuid: FLOW,
      results: {
        county: { value: "nairobi", category: "Nairobi" },
        risk: { value: "he hits me every night", category: "High" },
      },
    });
  });

  it("reads an editor body extended with json(input) and run: text, '<type>:<url>' attachments, ids", () => {
    const parsed = parseFlowWebhook(fixture("editor-with-input"));
    expect(parsed).toMatchObject({
      shape: "editor",
      contactUuid: CONTACT,
      text: "please help",
      runUuid: RUN,
      messageId: INPUT,
      attachments: [
        { content_type: "image/jpeg", url: "https://rapidpro.example.org/media/attachments/2/5/steps/7f3c.jpg" },
        { content_type: "geo", url: "geo:-1.286389,36.817223" },
      ],
    });
  });

  it("gives a location its geo: scheme back in both of goflow's spellings", () => {
    const body = (attachments: unknown[]) => ({
      chat_session: "s1",
      chat_sender: CONTACT,
      chat_message: "here",
      attachments,
    });
    const location = { content_type: "geo", url: "geo:-1.28,36.81" };
    expect(parseFlowWebhook(body(["geo:-1.28,36.81"])).attachments).toEqual([location]);
    expect(parseFlowWebhook(body([{ content_type: "geo", url: "-1.28,36.81" }])).attachments).toEqual([location]);
    expect(parseFlowWebhook(body([location])).attachments).toEqual([location]);
  });

  it("reads the legacy (migrated flow) body", () => {
    expect(parseFlowWebhook(fixture("legacy"))).toEqual({
      shape: "legacy",
      contactUuid: CONTACT,
      urn: "whatsapp:254700112233",
      name: "Neema",
      text: "I am scared to go home",
      attachments: [
        { content_type: "image/jpeg", url: "https://rapidpro.example.org/media/attachments/2/5/steps/7f3c.jpg" },
        { content_type: "audio/ogg", url: "https://rapidpro.example.org/media/attachments/2/5/steps/81aa.ogg" },
      ],
      runUuid: RUN,
      flowUuid: FLOW,
      messageId: INPUT,
      results: { risk: { value: "he hits me", category: "High" } },
    });
  });

  it("reads a legacy body without input (a run started by a trigger) and an anonymous contact", () => {
    const parsed = parseFlowWebhook(fixture("legacy-no-input"));
    expect(parsed).toEqual({
      shape: "legacy",
      contactUuid: CONTACT,
      urn: "tel:********",
      attachments: [],
      runUuid: RUN,
      flowUuid: FLOW,
      results: {},
    });
    expect(parsed.name).toBeUndefined();
  });

  it("reads the bridge body", () => {
    const parsed = parseFlowWebhook(fixture("bridge"));
    expect(parsed).toMatchObject({
      shape: "bridge",
      contactUuid: CONTACT,
      text: "I am scared to go home",
      messageId: INPUT,
      runUuid: RUN,
      flowUuid: FLOW,
      bridge: { session: "d2f852ec7b4e457fae7ff8b243c49ff5", receiver: "KE", location: "Nairobi", risk: "High" },
    });
  });

  it("takes the raw text or bytes as well as the parsed JSON", () => {
    const raw = JSON.stringify(fixture("legacy"));
    expect(parseFlowWebhook(raw)).toEqual(parseFlowWebhook(fixture("legacy")));
    expect(parseFlowWebhook(new TextEncoder().encode(raw)).text).toBe("I am scared to go home");
  });
});

describe("parseFlowWebhook: clear errors", () => {
  it("names the missing contact uuid, for each shape", () => {
    const editor = fixture("editor-default");
    delete (editor.contact as Record<string, unknown>).uuid;
    expect(failure(() => parseFlowWebhook(editor))).toMatchObject({
      code: "missing_field",
      field: "contact.uuid",
      status: 400,
      shape: "editor",
    });
    const legacy = fixture("legacy");
    (legacy.contact as Record<string, unknown>).uuid = "";
    expect(failure(() => parseFlowWebhook(legacy))).toMatchObject({ field: "contact.uuid", shape: "legacy" });
    const bridge = fixture("bridge");
    delete bridge.chat_sender;
    expect(failure(() => parseFlowWebhook(bridge))).toMatchObject({ field: "chat_sender", shape: "bridge" });
  });

  it("refuses what is not JSON, not an object, or no known body, saying what was expected", () => {
    expect(failure(() => parseFlowWebhook("{oops")).code).toBe("invalid_json");
    expect(failure(() => parseFlowWebhook([1, 2])).code).toBe("invalid_json");
    const unknown = failure(() => parseFlowWebhook({ text: "hi" }));
    expect(unknown.code).toBe("missing_field");
    expect(unknown.message).toMatch(/editor default.*legacy body.*bridge body/);
  });

  it("names a malformed field without quoting the body", () => {
    const legacy = fixture("legacy");
    (legacy.input as Record<string, unknown>).attachments = [42];
    const error = failure(() => parseFlowWebhook(legacy));
    expect([error.code, error.field]).toEqual(["invalid_field", "input.attachments[0]"]);
    const bridge = { ...fixture("bridge"), chat_source: "OUTBOX" };
    expect(failure(() => parseFlowWebhook(bridge)).field).toBe("chat_source");
    const editor = { ...fixture("editor-default"), contact: "Neema" };
    const e = failure(() => parseFlowWebhook(editor));
    expect(e.field).toBe("contact");
    expect(e.message).not.toContain("Neema");
  });
});

describe("toChatBody", () => {
  it("maps a legacy body to the gateway's POST chat/ body, without the name or the URN", () => {
    const body = toChatBody(parseFlowWebhook(fixture("legacy")), { session: RUN.replaceAll("-", ""), receiver: "KE" });
    expect(body).toEqual({
      chat_session: "d2f852ec7b4e457fae7ff8b243c49ff5",
      chat_message: "I am scared to go home",
      chat_sender: CONTACT,
      chat_source: "WENI",
      chat_channel: "WENI",
      chat_receiver: "KE",
      message_id: INPUT,
      attachments: [
        { content_type: "image/jpeg", url: "https://rapidpro.example.org/media/attachments/2/5/steps/7f3c.jpg" },
        { content_type: "audio/ogg", url: "https://rapidpro.example.org/media/attachments/2/5/steps/81aa.ogg" },
      ],
    });
    expect(JSON.stringify(body)).not.toContain("254700112233");
    expect(JSON.stringify(body)).not.toContain("Neema");
  });

  it("passes a location as an attachment, as the gateway takes it, not as a text line", () => {
    const body = toChatBody(parseFlowWebhook(fixture("editor-with-input")), {
      session: "s_1",
      senderName: "Child 17",
      messageId: "override-1",
    });
    expect(body.chat_message).toBe("please help");
    expect(body.attachments).toEqual([
      { content_type: "image/jpeg", url: "https://rapidpro.example.org/media/attachments/2/5/steps/7f3c.jpg" },
      { content_type: "geo", url: "geo:-1.286389,36.817223" },
    ]);
    expect([body.sender_name, body.message_id]).toEqual(["Child 17", "override-1"]);
  });

  it("sends a location alone (no text) as an attachment-only message", () => {
    const parsed = parseFlowWebhook({ chat_session: "s1", chat_sender: CONTACT, attachments: ["geo:-1.28,36.81"] });
    const body = toChatBody(parsed);
    expect(body.chat_message).toBeUndefined();
    expect(body.attachments).toEqual([{ content_type: "geo", url: "geo:-1.28,36.81" }]);
  });

  it("keeps an attachment the gateway cannot take (not http(s), not geo:) as a text line instead of dropping it", () => {
    const parsed = parseFlowWebhook({
      chat_session: "s1",
      chat_sender: CONTACT,
      chat_message: "listen",
      attachments: ["audio:/file/path.m4a"],
    });
    const body = toChatBody(parsed);
    expect(body.chat_message).toBe("listen\n[audio: /file/path.m4a]");
    expect(body.attachments).toBeUndefined();
  });

  it("passes a bridge body through, its own session and fields kept", () => {
    const source = fixture("bridge");
    const body = toChatBody(parseFlowWebhook(source));
    expect(body).toEqual(source);
  });

  it("refuses an editor body without input, naming what to add, and a bad or missing session", () => {
    const parsed = parseFlowWebhook(fixture("editor-default"));
    const noText = failure(() => toChatBody(parsed, { session: "s1" }));
    expect([noText.code, noText.field]).toEqual(["missing_field", "input.text"]);
    expect(noText.message).toContain('"input", input');
    expect(failure(() => toChatBody(parseFlowWebhook(fixture("legacy")))).field).toBe("chat_session");
    expect(failure(() => toChatBody(parseFlowWebhook(fixture("legacy")), { session: "a/b" })).code).toBe(
      "invalid_field",
    );
  });
});
