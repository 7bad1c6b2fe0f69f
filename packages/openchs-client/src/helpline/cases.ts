/** A value as the helpline stores it in a column. */
export type HelplineValue = string | number | boolean | null;

/** An id or a lookup id (category, gender, location, …): the helpline reads both forms. */
export type HelplineId = string | number;

/** Which keys `cases/` takes for the links to reporter, clients, perpetrators: 2025 servers or 2023 ones. */
export type CaseKeys = "2025" | "2023";

/** The contact fields shared by reporters, clients and perpetrators. Lookup ids are per deployment. */
export interface HelplinePersonInput {
  contact_fname: string;
  contact_lname?: string | undefined;
  contact_phone?: string | undefined;
  contact_email?: string | undefined;
  contact_age?: HelplineId | undefined;
  contact_age_group_id?: HelplineId | undefined;
  /** `d M Y` or unix seconds, as the deployment expects. */
  contact_dob?: string | undefined;
  contact_sex_id?: HelplineId | undefined;
  contact_location_id?: HelplineId | undefined;
  contact_landmark?: string | undefined;
  contact_nationality_id?: HelplineId | undefined;
  contact_lang_id?: HelplineId | undefined;
  contact_tribe_id?: HelplineId | undefined;
  /** Deployment-specific columns, sent as they are. The typed fields above take precedence. */
  extra?: Record<string, HelplineValue> | undefined;
}

/** `POST reporters/`: the person who reported (the child itself, or someone on their behalf). */
export interface ReporterInput extends HelplinePersonInput {
  /** Channel, e.g. `chat`. */
  src?: string | undefined;
  /** Channel unique id, e.g. the conversation id. */
  src_uid?: string | undefined;
  /** Channel address, e.g. the chatbot contact. */
  src_address?: string | undefined;
}

/** `POST clients/`: a child the case is about. */
export interface ClientInput extends HelplinePersonInput {
  /** Reporter's relationship to the client (lookup id). */
  relationship_id?: HelplineId | undefined;
}

/** `POST perpetrators/`. */
export interface PerpetratorInput extends HelplinePersonInput {
  /** Perpetrator's relationship with the client (lookup id). */
  relationship_id?: HelplineId | undefined;
  notes?: string | undefined;
}

/**
 * `POST cases/`. The camelCase fields are links, mapped to the keys of the server's version by the
 * client's `caseKeys` option (2025: `reporter_uuid_id`, `contact_uuid_id`, `clients_case`,
 * `perpetrators_case`, `services`; 2023: `reporter_id`, `reporter_contact_id`, `clients`,
 * `perpetrators`, `services`). The snake_case fields are sent as they are.
 */
export interface CaseInput {
  /** Id from `reporters.create`. */
  reporterId: string;
  /** Contact id from `reporters.create`. */
  reporterContactId: string;
  /** Ids from `clients.create`. */
  clientIds?: readonly string[] | undefined;
  /** Ids from `perpetrators.create`. */
  perpetratorIds?: readonly string[] | undefined;
  /** Category ids of the services offered. */
  serviceCategoryIds?: readonly HelplineId[] | undefined;
  /** Per deployment: list them with `categories.list`. */
  case_category_id: HelplineId;
  narrative: string;
  plan: string;
  priority: HelplineId;
  status: HelplineId;
  gbv_related: HelplineId;
  src?: string | undefined;
  src_uid?: string | undefined;
  src_address?: string | undefined;
  /** Deployment-specific fields, sent as they are. The typed fields take precedence. */
  extra?: Record<string, unknown> | undefined;
}

/** The case part of `createCompleteCase`: the links are filled in from the records created before it. */
export type CompleteCaseCaseInput = Omit<
  CaseInput,
  "reporterId" | "reporterContactId" | "clientIds" | "perpetratorIds"
>;

/** Input of `createCompleteCase`. */
export interface CompleteCaseInput {
  reporter: ReporterInput;
  clients: readonly ClientInput[];
  perpetrators: readonly PerpetratorInput[];
  case: CompleteCaseCaseInput;
}

/** The ids `createCompleteCase` created. */
export interface CompleteCaseIds {
  reporter: { id: string; contactId: string };
  clientIds: string[];
  perpetratorIds: string[];
  caseId: string;
}

/** A JSON body for `reporters/`, `clients/` or `perpetrators/`. */
export function personBody(input: HelplinePersonInput): Record<string, unknown> {
  const { extra, ...typed } = input;
  return withoutUndefined({ ...extra, ...typed });
}

/** A JSON body for `cases/`, with the link keys of the server's version. */
export function caseBody(input: CaseInput, keys: CaseKeys): Record<string, unknown> {
  const { extra, reporterId, reporterContactId, clientIds, perpetratorIds, serviceCategoryIds, ...typed } = input;
  const clients = (clientIds ?? []).map((client_id) => ({ client_id }));
  const perpetrators = (perpetratorIds ?? []).map((perpetrator_id) => ({ perpetrator_id }));
  const links =
    keys === "2025"
      ? {
          reporter_uuid_id: reporterId,
          contact_uuid_id: reporterContactId,
          clients_case: clients,
          perpetrators_case: perpetrators,
        }
      : { reporter_id: reporterId, reporter_contact_id: reporterContactId, clients, perpetrators };
  const services = serviceCategoryIds ? { services: serviceCategoryIds.map((category_id) => ({ category_id })) } : {};
  return withoutUndefined({ ...extra, ...typed, ...links, ...services });
}

function withoutUndefined(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined));
}
