/**
 * What the helpline's PHP gets from `json_decode($answer, true)[$key]` and then concatenates into a
 * header (`"Authorization: Token ".…` in openchlai/rest_api api/index.php message_out()):
 * json_decode gives null for anything that is not JSON, indexing null or a missing key gives null
 * (with a warning), and null concatenates as "". So a login answer that is not a JSON object with a
 * string `token` makes every later call go out as `Authorization: Token ` and fail.
 */
export function phpJsonValue(answer: string, key: string): string {
  let decoded: unknown;
  try {
    decoded = JSON.parse(answer);
  } catch {
    return "";
  }
  if (decoded === null || typeof decoded !== "object") return "";
  const value = (decoded as Record<string, unknown>)[key];
  if (value === undefined || value === null || value === false) return "";
  if (value === true) return "1";
  if (typeof value === "string" || typeof value === "number") return String(value);
  return "Array"; // PHP's string of an array, with a warning
}
