import { UpstreamError, type UpstreamErrorInit } from "@openchs-bridge/core";
import { describeDrfError, type ErrorBodyDetails, parseJsonBody } from "@openchs-bridge/core/upstream";

/** Which OpenCHS API an {@link OpenChsError} comes from. */
export type OpenChsService = "openchs-helpline" | "openchs-gateway";

/**
 * Every failure of the OpenCHS clients. Carries the stable `code` of `UpstreamError` (from `@openchs-bridge/core`)
 * (`auth`, `validation`, `not_found`, `rate_limited`, `unavailable`, `network`, `timeout`,
 * `invalid_response`, …), the HTTP `status`, the `field` the upstream named, `retryAfterMs`, and the
 * request with its credentials redacted. Never holds a password, token, session id, request body or
 * message text; `retriable` tells whether the same call may succeed later.
 */
export class OpenChsError extends UpstreamError {
  override name = "OpenChsError";
  declare readonly service: OpenChsService;

  constructor(service: OpenChsService, init: UpstreamErrorInit) {
    super(service, init);
  }
}

/** Whether `value` is an {@link OpenChsError}, optionally with the given `code`. */
export function isOpenChsError(value: unknown, code?: UpstreamErrorInit["code"]): value is OpenChsError {
  return value instanceof OpenChsError && (code === undefined || value.code === code);
}

/**
 * Reads the error shapes of the OpenCHS gateway API: DRF `{"detail": …}`,
 * `{"non_field_errors": […]}`, DRF field errors `{"<field>": ["<msg>"]}` (the first key is the
 * field; nested serializer errors give a path such as `attachments[0].url`), and the bridge's own
 * `{"error": {"code", "message", "field"}}`. Returns undefined for a body it does not recognise.
 */
export function describeGatewayError(_status: number, body: unknown): ErrorBodyDetails | undefined {
  const data = parseJsonBody(body);
  if (!isRecord(data)) return undefined;
  if (isRecord(data.error)) {
    const code = typeof data.error.code === "string" ? data.error.code : undefined;
    const message = typeof data.error.message === "string" ? data.error.message : undefined;
    const field = typeof data.error.field === "string" && data.error.field !== "" ? data.error.field : undefined;
    if (code === undefined && message === undefined) return undefined;
    return { message: [code, message].filter(Boolean).join(": "), field };
  }
  return describeDrfError(data);
}

/**
 * Reads the helpline core API's error shape
 * `{"errors": [["error", message, errno, table, row, field, value]]}`: the message of the first
 * entry, and its field when it names one. The `value` (index 6) is never read: it may be a
 * message text or a personal detail.
 */
export function describeHelplineError(_status: number, body: unknown): ErrorBodyDetails | undefined {
  const data = parseJsonBody(body);
  if (!isRecord(data) || !Array.isArray(data.errors)) return undefined;
  const first: unknown = data.errors[0];
  if (!Array.isArray(first)) return undefined;
  const message = typeof first[1] === "string" && first[1] !== "" ? first[1] : undefined;
  const field = typeof first[5] === "string" && first[5] !== "" ? first[5] : undefined;
  const table = typeof first[3] === "string" && first[3] !== "" ? first[3] : undefined;
  if (message === undefined && field === undefined) return undefined;
  const more = data.errors.length > 1 ? ` (+${data.errors.length - 1} more)` : "";
  return { message: `${message ?? "invalid data"}${table ? ` (${table})` : ""}${more}`, field };
}

/**
 * The login variant: the helpline answers a refused login with 412 (or 401, or 412 "Access
 * Denied" for a user without rights), and DRF's `token/` with 400 `non_field_errors`. All are `auth`.
 */
export function asLoginError(
  describe: (status: number, body: unknown) => ErrorBodyDetails | undefined,
): (status: number, body: unknown) => ErrorBodyDetails | undefined {
  return (status, body) => {
    const details = describe(status, body);
    if (status === 400 || status === 401 || status === 403 || status === 412) return { ...details, code: "auth" };
    return details;
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The step of `createCompleteCase` that failed. */
export type OpenChsCaseStep = "reporter" | "client" | "perpetrator" | "case";

/** What `createCompleteCase` had created when a step failed. */
export interface OpenChsCaseCreated {
  reporter?: { id: string; contactId: string } | undefined;
  clientIds: string[];
  perpetratorIds: string[];
}

/**
 * `createCompleteCase` failed part way. `step` (and `index` for a client or perpetrator) names the
 * call that failed, `created` the records that exist already (they are not rolled back: the
 * helpline has no delete for them), `cause` the error of the failed call, whose `code`, `status`
 * and `field` are copied here. Retriable only when nothing was created yet: a blind retry would
 * create the same people twice.
 */
export class OpenChsCaseError extends OpenChsError {
  override name = "OpenChsCaseError";
  readonly step: OpenChsCaseStep;
  readonly index: number | undefined;
  readonly created: OpenChsCaseCreated;

  constructor(init: {
    step: OpenChsCaseStep;
    index?: number | undefined;
    created: OpenChsCaseCreated;
    cause: unknown;
  }) {
    const cause = init.cause instanceof UpstreamError ? init.cause : undefined;
    const created: OpenChsCaseCreated = {
      ...(init.created.reporter ? { reporter: { ...init.created.reporter } } : {}),
      clientIds: [...init.created.clientIds],
      perpetratorIds: [...init.created.perpetratorIds],
    };
    const where =
      init.index === undefined || init.step === "reporter" || init.step === "case"
        ? init.step
        : `${init.step} ${init.index}`;
    super("openchs-helpline", {
      code: cause?.code ?? "http",
      status: cause?.status,
      field: cause?.field,
      retryAfterMs: cause?.retryAfterMs,
      request: cause?.request,
      cause: init.cause,
      message: `OpenCHS helpline createCompleteCase failed at ${where}: ${cause?.message ?? "unexpected error"}; already created: ${describeCreated(created)}`,
    });
    this.step = init.step;
    this.index = init.step === "client" || init.step === "perpetrator" ? init.index : undefined;
    this.created = created;
  }

  override get retriable(): boolean {
    return super.retriable && describeCreated(this.created) === "nothing";
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), step: this.step, index: this.index, created: this.created };
  }
}

function describeCreated(created: OpenChsCaseCreated): string {
  const parts: string[] = [];
  if (created.reporter) parts.push(`reporter ${created.reporter.id} (contact ${created.reporter.contactId})`);
  if (created.clientIds.length) parts.push(`clients ${created.clientIds.join(", ")}`);
  if (created.perpetratorIds.length) parts.push(`perpetrators ${created.perpetratorIds.join(", ")}`);
  return parts.length ? parts.join("; ") : "nothing";
}
