import { readFileSync } from "node:fs";

/**
 * One recorded request of a real caller (`fixtures/<name>.http`): `#` comment lines saying where it
 * comes from, the request line, the headers in the order the caller writes them, a blank line, and
 * the body bytes exactly (the file's final newline is not part of the body). `{{name}}` marks a
 * value known only at run time: a secret, the gateway's address, or something the bridge assigned.
 */
export interface Fixture {
  name: string;
  /** The comment lines (the citations), without `# `. */
  source: string[];
  method: string;
  target: string;
  /** `[name, value]` in order, placeholders unfilled. */
  headers: Array<[string, string]>;
  body: string;
}

/** The filled request: the exact bytes to write, and its parts for assertions. */
export interface RenderedRequest {
  bytes: Buffer;
  target: string;
  headers: Array<[string, string]>;
  body: Buffer;
}

const PLACEHOLDER = /\{\{([a-z_.]+)\}\}/g;
/** Values substituted into bodies must need no JSON or PHP escaping, so the fixture stays byte-exact. */
const SAFE_VALUE = /^[A-Za-z0-9_.:+@-]*$/;

export function loadFixture(name: string): Fixture {
  const text = readFileSync(new URL(`../fixtures/${name}.http`, import.meta.url), "utf8");
  const lines = text.split("\n");
  const source: string[] = [];
  let i = 0;
  while (lines[i]?.startsWith("#")) source.push(lines[i++]!.replace(/^# ?/, ""));
  const requestLine = /^([A-Z]+) (\S+) HTTP\/1\.1$/.exec(lines[i++] ?? "");
  if (!requestLine) throw new Error(`fixture ${name}: no request line after the comments`);
  const headers: Array<[string, string]> = [];
  for (; i < lines.length && lines[i] !== ""; i++) {
    const colon = lines[i]!.indexOf(": ");
    if (colon < 1) throw new Error(`fixture ${name}: bad header line ${JSON.stringify(lines[i])}`);
    headers.push([lines[i]!.slice(0, colon), lines[i]!.slice(colon + 2)]);
  }
  const body = lines
    .slice(i + 1)
    .join("\n")
    .replace(/\n$/, "");
  return { name, source, method: requestLine[1]!, target: requestLine[2]!, headers, body };
}

/**
 * Fills the placeholders and lays the request out as the caller writes it: CRLF line ends, the
 * headers in the fixture's order, `{{content_length}}` the body's byte length. A placeholder left
 * without a value throws, so a fixture cannot silently send `{{token}}`.
 */
export function renderFixture(fixture: Fixture, values: Record<string, string>): RenderedRequest {
  const fill = (text: string, where: string) =>
    text.replace(PLACEHOLDER, (_, key: string) => {
      const value = values[key];
      if (value === undefined) throw new Error(`fixture ${fixture.name}: no value for {{${key}}} in ${where}`);
      if (where === "body" && !SAFE_VALUE.test(value)) {
        throw new Error(`fixture ${fixture.name}: the value of {{${key}}} would need escaping in the body`);
      }
      return value;
    });
  const body = Buffer.from(fill(fixture.body, "body"), "utf8");
  const withLength: Record<string, string> = { ...values, content_length: String(body.length) };
  const fillHead = (text: string) =>
    text.replace(PLACEHOLDER, (_, key: string) => {
      const value = withLength[key];
      if (value === undefined) throw new Error(`fixture ${fixture.name}: no value for {{${key}}} in the head`);
      return value;
    });
  const target = fillHead(fixture.target);
  const headers = fixture.headers.map(([name, value]): [string, string] => [name, fillHead(value)]);
  const head = [`${fixture.method} ${target} HTTP/1.1`, ...headers.map(([n, v]) => `${n}: ${v}`), "", ""].join("\r\n");
  return { bytes: Buffer.concat([Buffer.from(head, "latin1"), body]), target, headers, body };
}

/** The value of a header of a fixture (first match, any case). */
export function headerOf(fixture: Fixture | RenderedRequest, name: string): string | undefined {
  return fixture.headers.find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1];
}
