import { z } from "zod";

/**
 * What a RapidPro flow's "Call Webhook" action posts (mailroom runs it; goflow evaluates the body
 * template). The body is whatever template the author wrote; three are recognised:
 * - `editor`: the flow editor's default, `{"contact":{uuid,name,urn},"flow":{uuid,name},
 *   "results":{<key>:{value,category}}}`; authors often add `input` (`json(input)`: text,
 *   attachments as `"<type>:<url>"`, urn as a string, uuid…) and `run`.
 * - `legacy`: flows migrated from old RapidPro: `contact, flow, path, results, run{uuid,created_on},
 *   input{text,attachments:[{content_type,url}],channel,created_on,type,urn{display,path,scheme},uuid},
 *   channel`; `input` is null when the run has no message.
 * - `bridge`: the gateway's `POST chat/` body (chat_session, chat_message, chat_sender, …).
 * Unknown fields are kept; `null` reads as absent.
 */

const opt = <T extends z.ZodType>(schema: T) => z.preprocess((v) => (v === null ? undefined : v), schema.optional());

/** `{"content_type","url"}` (goflow's `attachment_parts`) or `"<content-type>:<url>"` (goflow's context). */
export const flowAttachmentSchema = z.union([
  z.looseObject({ content_type: z.string(), url: z.string().min(1) }),
  z.string().regex(/^[^:\s]+:.+$/, 'expected "<content-type>:<url>"'),
]);

const urnSchema = z.union([
  z.string(),
  z.looseObject({ scheme: opt(z.string()), path: opt(z.string()), display: opt(z.string()) }),
]);

/** `contact` of the editor and legacy bodies. */
export const flowContactSchema = z.looseObject({
  uuid: opt(z.string()),
  name: opt(z.string()),
  urn: opt(z.string()),
});

/** `flow` of the editor and legacy bodies (`run.flow`: uuid, name, revision). */
export const flowRefSchema = z.looseObject({ uuid: opt(z.string()), name: opt(z.string()) });

/** The run's message: `input` of the legacy body, or `json(input)` added to an editor body. */
export const flowInputSchema = z.looseObject({
  uuid: opt(z.string()),
  text: opt(z.string()),
  type: opt(z.string()),
  created_on: opt(z.string()),
  attachments: opt(z.array(flowAttachmentSchema)),
  urn: opt(urnSchema),
  external_id: opt(z.string()),
});

const resultsSchema = opt(
  z.record(
    z.string(),
    z.union([
      z.looseObject({ value: opt(z.unknown()), category: opt(z.string()) }),
      z.string(), // an author's `"risk", results.risk.value`
    ]),
  ),
);

/** The flow editor's default body (and additions authors commonly make to it). */
export const editorWebhookSchema = z.looseObject({
  contact: flowContactSchema,
  flow: opt(flowRefSchema),
  results: resultsSchema,
  /** Not in the default template: `json(input)`, or just `input.text`. */
  input: opt(z.union([flowInputSchema, z.string()])),
  run: opt(z.looseObject({ uuid: opt(z.string()) })),
});

/** The body of flows migrated from legacy RapidPro. */
export const legacyWebhookSchema = z.looseObject({
  contact: flowContactSchema,
  flow: opt(flowRefSchema),
  path: z.array(z.unknown()),
  results: resultsSchema,
  run: z.looseObject({ uuid: opt(z.string()), created_on: opt(z.string()) }),
  input: opt(flowInputSchema),
  channel: opt(z.unknown()),
});

const idLike = z.union([z.string(), z.number().int()]).transform(String);

/** The gateway's `POST chat/` body, as a flow sends it (`chat_source` `WENI`). */
export const bridgeWebhookSchema = z.looseObject({
  chat_session: idLike,
  chat_message: opt(z.string()),
  chat_sender: opt(idLike),
  chat_receiver: opt(z.string()),
  chat_source: opt(z.string()),
  chat_channel: opt(z.string()),
  message_id: opt(idLike),
  sender_name: opt(z.string()),
  attachments: opt(z.array(flowAttachmentSchema)),
  location: opt(z.string()),
  risk: opt(z.string()),
  metadata: opt(z.record(z.string(), z.unknown())),
});
