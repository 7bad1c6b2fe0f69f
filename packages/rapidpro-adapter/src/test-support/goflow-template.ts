/**
 * Just enough of goflow's template language ("excellent", nyaruka/goflow `excellent/`) to render
 * what docs/rapidpro-flow.json writes, the way mailroom renders it before a "Call Webhook":
 * `@path.to.value`, `@(expression)` with string literals, paths and calls of `json`, `object`,
 * `foreach`, `replace` and `attachment_parts`. Anything else throws, so a template that would need
 * more of goflow fails its test instead of being rendered wrongly.
 *
 * Rules followed (read in goflow, not copied): a dotted lookup of a missing property is an error
 * (`excellent/tree.go`); `json()` writes Go's `encoding/json` of the value: object keys sorted,
 * compact, `<`, `>` and `&` not escaped, U+2028/U+2029 escaped (`utils/jsonx`); `attachment_parts`
 * splits `<content-type>:<url>` on the first colon when the type is a known one, so
 * `geo:-1.28,36.81` gives `{"content_type":"geo","url":"-1.28,36.81"}` (`utils/attachment.go`).
 */

/** A value in a goflow context or expression. */
export type GoValue = string | number | boolean | null | GoValue[] | { [key: string]: GoValue } | GoFunction;

interface GoFunction {
  readonly goFunction: string;
}

/** What a flow's templates can see: `contact`, `run`, `input`, `globals`, `results`, … */
export type GoContext = Record<string, GoValue>;

const FUNCTIONS: Record<string, (args: GoValue[]) => GoValue> = {
  json: ([value]) => goJson(value ?? null),
  object: (args) => {
    if (args.length % 2 !== 0) throw new Error("object() takes pairs of arguments");
    const out: Record<string, GoValue> = {};
    for (let i = 0; i < args.length; i += 2) out[text(args[i]!)] = args[i + 1]!;
    return out;
  },
  foreach: ([array, fn, ...rest]) => {
    if (!Array.isArray(array)) throw new Error("foreach() needs an array");
    if (!isFunction(fn)) throw new Error("foreach() needs a function");
    return array.map((item) => call(fn.goFunction, [item, ...rest]));
  },
  replace: ([value, needle, replacement, count]) => {
    if (count !== undefined) throw new Error("replace() with a count is not supported here");
    return text(value!).split(text(needle!)).join(text(replacement!));
  },
  attachment_parts: ([value]) => {
    const attachment = text(value!);
    const colon = attachment.indexOf(":");
    const type = colon >= 0 ? attachment.slice(0, colon).toLowerCase() : "";
    if (colon >= 0 && /^(image|audio|video|application|geo|unavailable|(\w+\/[-+.\w]+))$/.test(type)) {
      return { content_type: type, url: attachment.slice(colon + 1) };
    }
    return { content_type: "", url: attachment };
  },
};

/** Renders a template as goflow does: each `@…` replaced by its value as text; `@@` is a literal `@`. */
export function renderTemplate(template: string, context: GoContext): string {
  let out = "";
  let i = 0;
  while (i < template.length) {
    const at = template.indexOf("@", i);
    if (at < 0) break;
    out += template.slice(i, at);
    if (template[at + 1] === "@") {
      out += "@";
      i = at + 2;
    } else if (template[at + 1] === "(") {
      const parser = new Parser(template, at + 2, context);
      const value = parser.expression();
      parser.expect(")");
      out += text(value);
      i = parser.position;
    } else {
      const path = /^[A-Za-z_]\w*(\.\w+)*/.exec(template.slice(at + 1))?.[0];
      // goflow leaves an @ that names nothing in the context as it is (an email address, say).
      if (path === undefined || !(path.split(".")[0]! in context)) {
        out += "@";
        i = at + 1;
      } else {
        out += text(lookup(context, path));
        i = at + 1 + path.length;
      }
    }
  }
  return out + template.slice(i);
}

/** Go's `encoding/json` of a value as goflow writes it: sorted keys, compact, no HTML escaping. */
export function goJson(value: GoValue): string {
  if (isFunction(value)) throw new Error("a function has no JSON");
  if (typeof value === "string")
    return JSON.stringify(value)
      .replace(/\u2028/g, "\\u2028")
      .replace(/\u2029/g, "\\u2029");
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(goJson).join(",")}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${goJson(k)}:${goJson(value[k]!)}`).join(",")}}`;
}

function call(name: string, args: GoValue[]): GoValue {
  const fn = FUNCTIONS[name];
  if (!fn) throw new Error(`function ${name}() is not supported here`);
  return fn(args);
}

function isFunction(value: GoValue | undefined): value is GoFunction {
  return typeof value === "object" && value !== null && !Array.isArray(value) && "goFunction" in value;
}

/** A value as text: strings as they are, numbers and booleans as goflow prints them. */
function text(value: GoValue): string {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (value === null) return "";
  throw new Error(`rendering ${goJson(value)} as text is not supported here`);
}

function lookup(context: GoContext, path: string): GoValue {
  let value: GoValue = context;
  for (const key of path.split(".")) {
    if (typeof value !== "object" || value === null || Array.isArray(value) || isFunction(value) || !(key in value)) {
      throw new Error(`${path}: no property '${key}'`);
    }
    value = value[key]!;
  }
  return value;
}

class Parser {
  constructor(
    private readonly source: string,
    public position: number,
    private readonly context: GoContext,
  ) {}

  expression(): GoValue {
    this.skipSpace();
    const c = this.source[this.position];
    if (c === '"') return this.string();
    if (c !== undefined && /\d/.test(c)) {
      const digits = /^\d+(\.\d+)?/.exec(this.source.slice(this.position))![0];
      this.position += digits.length;
      return Number(digits);
    }
    const name = /^[A-Za-z_]\w*(\.\w+)*/.exec(this.source.slice(this.position))?.[0];
    if (name === undefined) throw new Error(`unexpected ${JSON.stringify(c)} at ${this.position}`);
    this.position += name.length;
    this.skipSpace();
    if (this.source[this.position] === "(") {
      this.position++;
      const args: GoValue[] = [];
      this.skipSpace();
      if (this.source[this.position] !== ")") {
        for (;;) {
          args.push(this.expression());
          this.skipSpace();
          if (this.source[this.position] !== ",") break;
          this.position++;
        }
      }
      this.expect(")");
      return call(name, args);
    }
    if (name.split(".")[0]! in this.context) return lookup(this.context, name);
    if (name in FUNCTIONS) return { goFunction: name };
    throw new Error(`${name}: not in the context`);
  }

  expect(symbol: string): void {
    this.skipSpace();
    if (this.source[this.position] !== symbol) {
      throw new Error(`expected ${symbol} at ${this.position}, found ${JSON.stringify(this.source[this.position])}`);
    }
    this.position++;
  }

  /** A string literal: double quotes, backslash escapes for `"` and `\`. */
  private string(): string {
    let out = "";
    for (let i = this.position + 1; i < this.source.length; i++) {
      const c = this.source[i]!;
      if (c === "\\") out += this.source[++i] ?? "";
      else if (c === '"') {
        this.position = i + 1;
        return out;
      } else out += c;
    }
    throw new Error("unterminated string");
  }

  private skipSpace(): void {
    while (/\s/.test(this.source[this.position] ?? "")) this.position++;
  }
}
