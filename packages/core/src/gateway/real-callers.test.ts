import { describe, expect, it } from "vitest";
import { bridgeHarness, CHATBOT_USER, clientMessage, HELPLINE_USER } from "../../test-support/bridge-harness";

/**
 * What the real callers send (PROTOCOL.md "What real callers send"): the helpline's PHP
 * (openchlai/rest_api `api/index.php` `message_out()`), the documented Postman examples, and goflow's
 * attachments. Each must work as it is sent today.
 */

const CONTACT = clientMessage("s1", "").chat_sender;

async function started(overrides: Parameters<typeof bridgeHarness>[0] = {}) {
  const h = bridgeHarness(overrides);
  return { ...h, chatbotToken: await h.login(CHATBOT_USER), helplineToken: await h.login(HELPLINE_USER) };
}

/**
 * A counselor reply exactly as the helpline's PHP posts it: all values strings, no `sender_name`,
 * no `message_id`, `json_encode` escapes (`\u2019`), and `chat_channel` echoing the `channel` of msg/.
 */
function phpReply(session: string, channel: string, extension = "101") {
  return `{"chat_sender":"${CONTACT}","chat_receiver":"${extension}","chat_message":"I\\u2019m here, you are safe to talk","chat_session":"${session}","chat_channel":"${channel}","chat_source":"OUTBOX"}`;
}

describe("the helpline's PHP counselor reply", () => {
  it.each(["chat", "WENI"])(
    "201 for its exact body with chat_channel %s, delivered to the chatbot with the counselor's pseudonym",
    async (channel) => {
      const h = await started();
      await h.call("POST", "chat/", { token: h.chatbotToken, body: clientMessage("s1", "help", { message_id: "c1" }) });
      await h.bridge.runDue();

      const res = await h.call("POST", "chat/", {
        token: h.helplineToken,
        raw: phpReply("s1", channel),
        headers: { "content-type": "application/json" },
      });
      expect(res.status).toBe(201);
      expect(res.json).toMatchObject({ status: "accepted", conversation_id: "s1", conversation_state: "connected" });
      await h.bridge.runDue();
      expect(h.chatbot.messages).toMatchObject([
        {
          conversationId: "s1",
          contact: CONTACT,
          text: "I\u2019m here, you are safe to talk",
          counselorName: "Counselor 101",
          counselorExtension: "101",
        },
      ]);
      // The echoed channel is kept with the message, whatever it is.
      const [, reply] = await h.store.conversationMessages("s1");
      expect(reply).toMatchObject({ direction: "to_chatbot", channel, status: "sent" });
    },
  );

  it("keeps an unknown echoed chat_channel, and bounds only its length", async () => {
    const h = await started();
    await h.call("POST", "chat/", { token: h.chatbotToken, body: clientMessage("s1", "help") });
    const odd = await h.call("POST", "chat/", {
      token: h.helplineToken,
      body: { chat_session: "s1", chat_message: "hi", chat_source: "OUTBOX", chat_channel: "sms-gateway 2" },
    });
    expect(odd.status).toBe(201);
    const long = await h.call("POST", "chat/", {
      token: h.helplineToken,
      body: { chat_session: "s1", chat_message: "hi", chat_source: "OUTBOX", chat_channel: "x".repeat(101) },
    });
    expect(long.status).toBe(400);
    expect(long.json.error).toMatchObject({ code: "invalid_field", field: "chat_channel" });
  });

  it("names the counselor by a read ack's sender_name first, else by the extension template (an option)", async () => {
    const h = await started({ counselorNameTemplate: "Mshauri {extension}" });
    await h.call("POST", "chat/", { token: h.chatbotToken, body: clientMessage("s1", "help", { message_id: "c1" }) });
    await h.bridge.runDue();
    await h.call("POST", "chat/", { token: h.helplineToken, raw: phpReply("s1", "WENI", "205") });
    await h.bridge.runDue();
    await h.call("POST", "chat/s1/ack/", {
      token: h.helplineToken,
      body: { message_id: "c1", status: "read", chat_source: "HELPLINE", sender_name: "Amina" },
    });
    await h.call("POST", "chat/", {
      token: h.helplineToken,
      raw: phpReply("s1", "WENI", "205").replace("safe to talk", "not alone"),
    });
    await h.bridge.runDue();
    expect(h.chatbot.messages.map((m) => m.counselorName)).toEqual(["Mshauri 205", "Amina"]);
  });

  it("refuses a counselor name template that is not a string or a function, naming the option", async () => {
    expect(() => bridgeHarness({ counselorNameTemplate: 5 as unknown as string })).toThrow(/counselorNameTemplate/);
  });
});

describe("the conversation's channel reaches the helpline's msg/", () => {
  it("is the first client message's chat_channel, WENI by default, and later messages do not change it", async () => {
    const h = await started();
    await h.call("POST", "chat/", {
      token: h.chatbotToken,
      body: clientMessage("s1", "hi", { chat_channel: "WHATSAPP", message_id: "1" }),
    });
    await h.call("POST", "chat/", {
      token: h.chatbotToken,
      body: clientMessage("s1", "again", { chat_channel: "FACEBOOK", message_id: "2" }),
    });
    await h.call("POST", "chat/", { token: h.chatbotToken, body: clientMessage("s2", "hi") });
    await h.call("POST", "chat/", { token: h.chatbotToken, body: clientMessage("s3", "hi", { chat_channel: "" }) });
    await h.bridge.runDue();
    const channels = Object.fromEntries(h.helpline.messages.map((m) => [`${m.conversationId}/${m.text}`, m.channel]));
    expect(channels).toEqual({ "s1/hi": "WHATSAPP", "s1/again": "WHATSAPP", "s2/hi": "WENI", "s3/hi": "WENI" });
    expect((await h.store.getConversation("s1"))?.channel).toBe("WHATSAPP");
  });

  it("is WENI for a conversation stored before conversations remembered their channel", async () => {
    const h = await started();
    await h.call("POST", "chat/", { token: h.chatbotToken, body: clientMessage("old", "hi", { message_id: "1" }) });
    const stored = (await h.store.getConversation("old"))!;
    const { channel: _dropped, ...before } = stored;
    await h.store.transaction((tx) =>
      tx.updateConversation({ ...before, version: stored.version + 1 }, stored.version),
    );
    await h.bridge.runDue();
    expect(h.helpline.messages.map((m) => m.channel)).toEqual(["WENI"]);
  });
});

describe("the documented examples: numbers for strings, and wrong types named", () => {
  it("takes chat_sender and chat_receiver sent as JSON numbers as their decimal strings", async () => {
    const h = await started();
    const res = await h.call("POST", "chat/", {
      token: h.chatbotToken,
      raw: '{"chat_session":"s1","chat_message":"hello","chat_sender":23343411,"chat_receiver":116,"chat_source":"WENI"}',
      headers: { "content-type": "application/json" },
    });
    expect(res.status).toBe(201);
    await h.bridge.runDue();
    expect(h.helpline.messages).toMatchObject([{ from: "23343411", receiver: "116" }]);
    expect((await h.store.getConversation("s1"))?.contact).toBe("23343411");
  });

  it.each([
    ["chat_message", { chat_message: 5 }, "expected a string"],
    ["chat_session", { chat_session: 12 }, "expected a string"],
    ["chat_sender", { chat_sender: true }, "expected a string (or a whole number)"],
    ["chat_sender", { chat_sender: 1.5 }, "expected a string (or a whole number)"],
    ["attachments", { attachments: "https://cdn.test/a.jpg" }, "expected an array"],
    [
      "attachments[0].content_type",
      { attachments: [{ url: "https://cdn.test/a.jpg", content_type: 3 }] },
      "expected a string",
    ],
    ["metadata", { metadata: ["a"] }, "expected an object"],
    ["message_id", { message_id: { id: 1 } }, "expected a string or a whole number"],
  ])("400 invalid_field for %s of the wrong type, naming the type expected", async (field, change, rule) => {
    const h = await started();
    const res = await h.call("POST", "chat/", {
      token: h.chatbotToken,
      body: { ...clientMessage("s1", "x"), ...change },
    });
    expect(res.status).toBe(400);
    expect(res.json.error).toEqual({ code: "invalid_field", field, message: `${field}: ${rule}` });
  });

  it("keeps missing_field for a field that is absent or null", async () => {
    const h = await started();
    const res = await h.call("POST", "chat/", {
      token: h.chatbotToken,
      body: { ...clientMessage("s1", "x"), chat_session: null },
    });
    expect(res.json.error).toMatchObject({ code: "missing_field", field: "chat_session" });
  });

  it("names wrong types on close/, ack/ and token/ too", async () => {
    const h = await started();
    await h.call("POST", "chat/", { token: h.chatbotToken, body: clientMessage("s1", "x", { message_id: "c1" }) });
    const close = await h.call("POST", "chat/s1/close/", {
      token: h.helplineToken,
      body: { chat_source: "HELPLINE", reason: 7 },
    });
    expect(close.json.error).toEqual({ code: "invalid_field", field: "reason", message: "reason: expected a string" });
    const ack = await h.call("POST", "chat/s1/ack/", {
      token: h.helplineToken,
      body: { message_id: "c1", status: "read", sender_name: ["Amina"] },
    });
    expect(ack.json.error).toMatchObject({ code: "invalid_field", field: "sender_name" });
    const ackId = await h.call("POST", "chat/s1/ack/", {
      token: h.helplineToken,
      body: { message_id: [], status: "read" },
    });
    expect(ackId.json.error).toMatchObject({ code: "invalid_field", field: "message_id" });
    const token = await h.call("POST", "token/", { body: { username: "weni", password: 12345678 } });
    expect(token.json.error).toEqual({
      code: "invalid_field",
      field: "password",
      message: "password: expected a string",
    });
  });
});

describe("media types", () => {
  it.each([
    "application/json",
    "application/json; charset=utf-8",
    "APPLICATION/JSON;charset=UTF-8",
    "application/vnd.api+json",
    "application/merge-patch+json; charset=utf-8",
    "text/plain",
    "text/plain;charset=UTF-8",
  ])("accepts a JSON body sent as %s", async (type) => {
    const h = await started();
    const res = await h.call("POST", "chat/", {
      token: h.chatbotToken,
      raw: JSON.stringify(clientMessage("s1", "hello")),
      headers: { "content-type": type },
    });
    expect(res.status).toBe(201);
  });

  it("accepts a JSON body sent without any Content-Type", async () => {
    const h = await started();
    // A string body would get text/plain from Request itself: bytes get no Content-Type.
    const request = new Request("http://bridge.test/api/chat/", {
      method: "POST",
      headers: { authorization: `Token ${h.chatbotToken}` },
      body: new TextEncoder().encode(JSON.stringify(clientMessage("s1", "hello"))),
    });
    expect(request.headers.get("content-type")).toBeNull();
    expect((await h.bridge.handler(request)).status).toBe(201);
  });

  it("closes with the documented Postman close: a raw (text) body", async () => {
    const h = await started();
    await h.call("POST", "chat/", { token: h.chatbotToken, body: clientMessage("s1", "hello") });
    const res = await h.call("POST", "chat/s1/close/", {
      token: h.helplineToken,
      raw: '{"chat_source":"HELPLINE"}',
      headers: { "content-type": "text/plain" },
    });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ state: "closed", closed_by: "helpline" });
  });

  it.each([
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "text/html",
    "application/xml",
    "application/jsonp",
    "text/plain-json",
  ])("415 for %s, naming what is accepted", async (type) => {
    const h = await started();
    const res = await h.call("POST", "chat/", {
      token: h.chatbotToken,
      raw: JSON.stringify(clientMessage("s1", "hello")),
      headers: { "content-type": type },
    });
    expect(res.status).toBe(415);
    expect(res.json.error.code).toBe("unsupported_media_type");
    expect(res.json.error.message).toContain("application/json");
    expect(res.json.error.message).toContain("text/plain");
    expect(await h.store.getConversation("s1")).toBeUndefined();
  });

  it("token/ still takes a form-encoded login, and says so when refusing a type", async () => {
    const h = bridgeHarness();
    const form = await h.call("POST", "token/", {
      raw: new URLSearchParams(CHATBOT_USER).toString(),
      headers: { "content-type": "application/x-www-form-urlencoded; charset=utf-8" },
    });
    expect(form.status).toBe(200);
    const refused = await h.call("POST", "token/", {
      raw: JSON.stringify(CHATBOT_USER),
      headers: { "content-type": "text/html" },
    });
    expect(refused.status).toBe(415);
    expect(refused.json.error.message).toContain("application/x-www-form-urlencoded");
  });
});

describe("shared locations (goflow geo: attachments)", () => {
  const location = { url: "geo:-1.28,36.81", content_type: "geo" };

  it.each([
    ["its {url, content_type} form", location],
    ["goflow's string form", "geo:-1.28,36.81"],
    ["goflow's split parts", { content_type: "geo", url: "-1.28,36.81" }],
  ])("accepts a location in %s, and hands it to the helpline as a geo: attachment", async (_form, attachment) => {
    const h = await started();
    const res = await h.call("POST", "chat/", {
      token: h.chatbotToken,
      body: clientMessage("s1", "", { attachments: [attachment] }),
    });
    expect(res.status).toBe(201);
    await h.bridge.runDue();
    expect(h.helpline.messages).toMatchObject([{ conversationId: "s1", attachments: [location] }]);
  });

  it("accepts a location beside an http(s) attachment, and never puts it in an event", async () => {
    const h = await started();
    const photo = { url: "https://cdn.test/a.jpg", content_type: "image/jpeg" };
    const res = await h.call("POST", "chat/", {
      token: h.chatbotToken,
      body: clientMessage("s1", "here", { attachments: [photo, location] }),
    });
    expect(res.status).toBe(201);
    await h.bridge.runDue();
    expect(h.helpline.messages[0]?.attachments).toEqual([photo, location]);
    expect(JSON.stringify(h.events)).not.toContain("36.81");
  });

  it.each([
    ["a latitude beyond 90", "geo:90.5,36.81"],
    ["a longitude beyond 180", "geo:-1.28,181"],
    ["one coordinate", "geo:-1.28"],
    ["no numbers", "geo:here"],
    ["a trailing part", "geo:-1.28,36.81,0;u=10"],
    ["another scheme", "ftp://cdn.test/a.jpg"],
  ])("400 naming attachments[i].url for %s, without quoting it", async (_name, url) => {
    const h = await started();
    const res = await h.call("POST", "chat/", {
      token: h.chatbotToken,
      body: clientMessage("s1", "x", { attachments: [location, { url, content_type: "geo" }] }),
    });
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({ code: "invalid_field", field: "attachments[1].url" });
    expect(res.json.error.message).toContain("geo:<lat>,<long>");
    expect(res.json.error.message).not.toContain(url);
  });

  it("400 naming attachments[0].url for an invalid location in goflow's string form", async () => {
    const h = await started();
    const res = await h.call("POST", "chat/", {
      token: h.chatbotToken,
      body: clientMessage("s1", "x", { attachments: ["geo:-100,0"] }),
    });
    expect(res.json.error).toMatchObject({ code: "invalid_field", field: "attachments[0].url" });
  });
});
