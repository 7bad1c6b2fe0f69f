import { z } from "zod";
import { idLike } from "../internal/shared";

/**
 * Answers of the OpenCHS helpline core API (`openchlai/rest_api`). A resource answer is
 * `{"<resource>": [[col0, col1, …], …], "<resource>_k": {"<field>": ["<col index>", …]}, …}`:
 * rows of strings in the resource's column order, the first column the id.
 */

/** A row whose first column is the record's id. */
const row = z.tuple([idLike], z.unknown());

/** Login: `{"ss": [[session_id, user_id, username, role, contact_id]], …}`. */
export const loginAnswerSchema = z.looseObject({
  ss: z.array(row).min(1),
});

/** `POST msg/`: 201 with the stored message (`{"messages": [[id, …]]}`), or 203 `{"action": …}` (async). */
export const messageAnswerSchema = z
  .looseObject({
    messages: z.array(row).optional(),
  })
  .optional();

/** `POST <resource>/`: the created record's row, the id at `[0][0]`. */
export function createdAnswerSchema(resource: "clients" | "perpetrators" | "cases") {
  return z.looseObject({ [resource]: z.array(row).min(1) });
}

/** `POST reporters/`: the id at `reporters[0][0]`, the reporter's contact id at `reporters[0][5]`. */
export const reporterAnswerSchema = z.looseObject({
  reporters: z.array(z.tuple([idLike, z.unknown(), z.unknown(), z.unknown(), z.unknown(), idLike], z.unknown())).min(1),
});

/** `GET categories/`: rows (an array, or an object keyed by id), and the column map `categories_k`. */
export const categoriesAnswerSchema = z.looseObject({
  categories: z.union([z.array(row), z.record(z.string(), z.array(z.unknown()))]).optional(),
  categories_k: z.record(z.string(), z.array(z.unknown())).optional(),
});
