import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { nodeVersionProblem } from "./node-version";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const BIN = fileURLToPath(new URL("./bin.ts", import.meta.url));
const VERSION = (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string })
  .version;
/** tsx by its path: the commands run in a scratch directory, where `--import tsx` would not resolve. */
const TSX = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
const HINT = 'Run "openchs-bridge --help" for the commands and variables.';

/** A working directory with no .env, removed at the end. */
const EMPTY_DIR = mkdtempSync(join(tmpdir(), "openchs-bridge-bin-"));
afterAll(() => rmSync(EMPTY_DIR, { recursive: true, force: true }));

/** Only what a shell gives every command: no variable of ours leaks in from the test runner. */
const bareEnv = (extra: Record<string, string> = {}) => ({
  PATH: process.env.PATH ?? "",
  HOME: process.env.HOME ?? "",
  ...extra,
});

/** `openchs-bridge …` from source, as `npm run serve` runs it. */
function runSource(args: string[], options: { env?: Record<string, string>; nodeArgs?: string[] } = {}) {
  return spawnSync(
    process.execPath,
    [...(options.nodeArgs ?? []), "--conditions=@openchs-bridge/source", "--import", TSX, BIN, ...args],
    { cwd: EMPTY_DIR, encoding: "utf8", env: bareEnv(options.env) },
  );
}

describe("openchs-bridge, linked by npm in the repository", () => {
  it("runs right after npm ci: npx finds the bin, which runs the sources", () => {
    const result = spawnSync("npx", ["--no-install", "openchs-bridge", "--version"], {
      cwd: ROOT,
      encoding: "utf8",
      env: bareEnv(),
    });
    expect(result.stderr).toBe("");
    expect(result.stdout).toBe(`${VERSION}\n`);
    expect(result.status).toBe(0);
  }, 30_000);
});

describe("the command line", () => {
  it("prints the package version for --version and -v", () => {
    for (const flag of ["--version", "-v"]) {
      const result = runSource([flag]);
      expect(result.status).toBe(0);
      expect(result.stdout).toBe(`${VERSION}\n`);
    }
  }, 30_000);

  it.each([
    [["serve", "--port", "80"], 'openchs-bridge: serve does not take "--port"'],
    [["--verbose"], 'openchs-bridge: unknown flag "--verbose"'],
    [["start"], 'openchs-bridge: unknown command "start"'],
    [["erase", "--all"], 'openchs-bridge: erase does not take "--all"'],
    [["demo", "--fast"], 'openchs-bridge: demo does not take "--fast"'],
    [["--version", "extra"], 'openchs-bridge: --version does not take "extra"'],
  ])(
    "refuses %j with exit code 2: one line naming it, and the usage hint",
    (args, line) => {
      const result = runSource(args);
      expect(result.status).toBe(2);
      expect(result.stderr).toBe(`${line}\n${HINT}\n`);
      expect(result.stdout).toBe("");
    },
    30_000,
  );

  it("lists every missing or invalid variable at once, one per line, with no value and no stack trace", () => {
    const result = runSource(["serve"], {
      env: { BRIDGE_STORE: "memory", PORT: "SENTINEL-port", HELPLINE_USERNAME: "bridge", HELPLINE_PASSWORD: "x" },
    });
    expect(result.status).toBe(1);
    const lines = result.stderr.trimEnd().split("\n");
    expect(lines.map((l) => /^openchs-bridge: ([A-Z_]+)/.exec(l)?.[1] ?? l)).toEqual([
      "PORT",
      "BRIDGE_CONSUMERS",
      "HELPLINE_URL",
      "RAPIDPRO_URL",
      "RAPIDPRO_TOKEN",
      "RAPIDPRO_CLOSE_FLOW",
      'Run "openchs-bridge serve --help" for every variable.',
    ]);
    expect(result.stderr).not.toContain("SENTINEL");
    expect(result.stderr).not.toMatch(/\bat .*:\d+:\d+/);
  }, 30_000);

  it("reads .env with Node's parser: quotes and trailing comments are not part of the value", () => {
    const dir = mkdtempSync(join(tmpdir(), "openchs-bridge-env-"));
    try {
      // An invalid PORT is reported by name: the run shows which value the file gave without showing it.
      writeFileSync(join(dir, ".env"), 'export BRIDGE_LOG="off" # quiet\nBRIDGE_BASE_PATH="/api/" # the default\n');
      const result = spawnSync(
        process.execPath,
        ["--conditions=@openchs-bridge/source", "--import", TSX, BIN, "serve"],
        { cwd: dir, encoding: "utf8", env: bareEnv({ BRIDGE_STORE: "memory" }) },
      );
      // Had the quotes or the comment been kept, BRIDGE_LOG and BRIDGE_BASE_PATH would be invalid too.
      const named = [...result.stderr.matchAll(/^openchs-bridge: ([A-Z_]+)/gm)].map((m) => m[1]);
      expect(named).not.toContain("BRIDGE_LOG");
      expect(named).not.toContain("BRIDGE_BASE_PATH");
      expect(named).toContain("BRIDGE_CONSUMERS");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});

describe("openchs-bridge demo", () => {
  it("plays a whole conversation against the simulators, when they are installed (as in the repository)", () => {
    const result = runSource(["demo"]);
    expect(result.stderr).toBe("");
    expect(result.stdout).toContain("state → closed by helpline");
    expect(result.stdout).toMatch(/handed back\s+yes/);
    expect(result.status).toBe(0);
  }, 60_000);

  it("says in one line where the demo is when the simulators are not installed (the CLI alone)", () => {
    const withoutSimulators = `
      import { registerHooks } from "node:module";
      registerHooks({
        resolve(specifier, context, next) {
          if (specifier !== "@openchs-bridge/simulators") return next(specifier, context);
          throw Object.assign(new Error("Cannot find package '@openchs-bridge/simulators'"), { code: "ERR_MODULE_NOT_FOUND" });
        },
      });`;
    const result = runSource(["demo"], {
      nodeArgs: ["--import", `data:text/javascript,${encodeURIComponent(withoutSimulators)}`],
    });
    expect(result.stderr).toMatch(
      /^openchs-bridge: the demo needs the simulators, which ship with the repository.*npm run demo\n$/,
    );
    expect(result.status).toBe(1);
  }, 30_000);
});

describe("on a Node.js older than 22.13", () => {
  it("names the version needed in one line, before anything loads node:sqlite", () => {
    // Node 20 as far as the CLI can tell: an older version string, and no node:sqlite at all.
    const oldNode = `
      import { registerHooks } from "node:module";
      Object.defineProperty(process.versions, "node", { value: "20.11.1" });
      registerHooks({
        resolve(specifier, context, next) {
          if (specifier === "node:sqlite") throw new Error("No such built-in module: node:sqlite");
          return next(specifier, context);
        },
      });`;
    const result = runSource(["serve"], {
      nodeArgs: ["--import", `data:text/javascript,${encodeURIComponent(oldNode)}`],
      env: { BRIDGE_STORE: "memory" },
    });
    expect(result.stderr).toBe("openchs-bridge: Node.js 22.13 or newer is required (this is 20.11.1)\n");
    expect(result.status).toBe(1);
  }, 30_000);

  it.each([
    ["20.18.0", false],
    ["22.12.0", false],
    ["22.13.0", true],
    ["22.13.1", true],
    ["23.0.0", true],
    ["24.1.0", true],
  ])("checks %s against the floor", (version, enough) => {
    expect(nodeVersionProblem(version) === undefined).toBe(enough);
  });
});
