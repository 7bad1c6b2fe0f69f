#!/usr/bin/env node
// The file npm links as `openchs-bridge`. It exists in the repository, so `npm ci` links it even
// before anything is built (npm skips a bin whose target is missing at install time).
// - Installed from the registry (under node_modules): runs the build, dist/bin.js.
// - In a checkout: runs the sources through tsx with the `@openchs-bridge/source` condition, as
//   `npm run serve` does, so the command never runs a stale build.
// Either way src/bin.ts checks the Node version first. Plain JavaScript on purpose: no build step.
import { existsSync } from "node:fs";
import { register } from "node:module";
import { sep } from "node:path";
import { fileURLToPath } from "node:url";

const sources = new URL("../src/bin.ts", import.meta.url);
const built = new URL("../dist/bin.js", import.meta.url);
const installed = fileURLToPath(import.meta.url).includes(`${sep}node_modules${sep}`);

async function sourceEntry() {
  let tsx;
  try {
    tsx = await import("tsx/esm/api");
  } catch {
    return undefined; // no tsx: not a development checkout
  }
  tsx.register();
  // Workspace packages resolve to their sources (package.json `exports`) under this condition.
  const addCondition = `export function resolve(specifier, context, next) {
    return next(specifier, { ...context, conditions: [...context.conditions, "@openchs-bridge/source"] });
  }`;
  register(`data:text/javascript,${encodeURIComponent(addCondition)}`);
  return sources;
}

const entry = (!installed && existsSync(sources) && (await sourceEntry())) || (existsSync(built) ? built : undefined);
if (entry === undefined) {
  process.stderr.write("openchs-bridge: this copy is not built: run `npm run build` (or install tsx)\n");
  process.exitCode = 1;
} else {
  await import(entry.href);
}
