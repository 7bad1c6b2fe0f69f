import type { HelplineMessageRecord } from "@openchs-bridge/simulators";
import type { GoContext } from "../../../packages/rapidpro-adapter/src/test-support/goflow-template";
import { eventually } from "../../reliability/support/gateway-process";
import { FLOW_EXPORT, readAsFlow } from "./flow-webhook";
import { type CallerSystem, describeAnswer } from "./system";

/**
 * The run of the flow fixtures (`flow-webhook-message.http`, `flow-webhook-location.http`): one run
 * of docs/rapidpro-flow.json for one contact, and the child's two messages in it.
 */
export const FLOW = {
  run: "5c2a7b1e-3f4d-4a8b-9c0d-1e2f3a4b5c6d",
  /** `replace(run.uuid, "-", "")`. */
  session: "5c2a7b1e3f4d4a8b9c0d1e2f3a4b5c6d",
  contact: "2b7c5d1e-8f3a-4c6b-9d2e-7a1f0c3b5e84",
  messageId: "e8d4b2a6-1c3f-4e5d-9a7b-0f2c4d6e8a1b",
  text: "Nisaidie tafadhali, naogopa kurudi nyumbani <3 & sijui nifanye nini 🙏",
  locationMessageId: "f1a3c5e7-2b4d-4f6a-8c0e-1d3f5a7c9e2b",
  /** The shared location as goflow's attachment string. */
  location: "geo:-1.2921,36.8219",
};

/** The child's message of each flow fixture, as goflow's `@input` shows it (attachments as `<type>:<url>`). */
export const FLOW_INPUTS = {
  "flow-webhook-message": { uuid: FLOW.messageId, text: FLOW.text, attachments: [] },
  "flow-webhook-location": { uuid: FLOW.locationMessageId, text: "", attachments: [FLOW.location] },
} satisfies Record<string, { uuid: string; text: string; attachments: string[] }>;

export type FlowFixture = keyof typeof FLOW_INPUTS;

/**
 * The goflow context of the fixtures' run when `fixture`'s message is the input. The globals hold
 * the fixtures' placeholders, `bridge_url` = `http://{{host}}/api/` (the gateway under test) and
 * `bridge_key` = `{{api_key}}` (the chatbot consumer's key), so that what the templates render
 * compares with the fixture as written.
 */
export function flowContext(fixture: FlowFixture): GoContext {
  return {
    contact: { uuid: FLOW.contact },
    run: { uuid: FLOW.run, flow: { uuid: FLOW_EXPORT.uuid, name: FLOW_EXPORT.name } },
    input: { ...FLOW_INPUTS[fixture], attachments: [...FLOW_INPUTS[fixture].attachments] },
    globals: { bridge_url: "http://{{host}}/api/", bridge_key: "{{api_key}}" },
    results: {},
  };
}

/** The counselor's reply of `helpline-php-reply.http`, as the counselor typed it (PHP escapes it on the wire). */
export const COUNSELOR_REPLY = "Pole sana. Uko salama sasa hivi? Nipo hapa kukusaidia 🤝 (simu/ujumbe: 116)";

/**
 * Opens the conversation the way the flow does (the child's message, sent with the chatbot
 * consumer's API key: no login) and returns the helpline's record of it: what the bridge gave
 * `msg/`, which the helpline's PHP echoes in its reply.
 */
export async function openByFlow(system: CallerSystem): Promise<HelplineMessageRecord> {
  const answer = await system.send("flow-webhook-message");
  if (readAsFlow(answer).exit !== "Success") throw new Error(`the flow's message got ${describeAnswer(answer)}`);
  return eventually("the flow's message at the helpline", () =>
    system.helpline.state.messages(FLOW.session).find((m) => m.messageId === FLOW.messageId),
  );
}

/** The counselor reply's copies at RapidPro (broadcasts or messages ending with the text). */
export function repliesAtRapidPro(system: CallerSystem, text: string): Array<{ contacts: string[]; urns: string[] }> {
  const { broadcasts, messages } = system.rapidpro.state;
  return [
    ...broadcasts.filter((b) => b.text.endsWith(text)).map((b) => ({ contacts: b.contacts, urns: b.urns })),
    ...messages.filter((m) => m.text.endsWith(text)).map((m) => ({ contacts: [m.contact], urns: [] })),
  ];
}
