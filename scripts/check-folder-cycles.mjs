// Fails when two folders of a package's src/ import each other, directly or round a loop (e.g.
// gateway → conversations → gateway). Each folder is a room of the architecture; imports between
// rooms must point one way. Files at the top of src/ (the composition root, entry points) are one
// room, "(top)". Type-only imports count too: they tie the rooms' designs together all the same.
// Tests are left out: a test may drive the whole bridge from any room.
// Usage: node scripts/check-folder-cycles.mjs [src dir…] (default: packages/core/src).
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";

const roots = process.argv.slice(2).length ? process.argv.slice(2) : ["packages/core/src"];
let failed = false;
for (const root of roots.map((r) => resolve(r))) {
  const room = (file) => {
    const parts = relative(root, file).split(sep);
    return parts.length === 1 ? "(top)" : parts[0];
  };
  const edges = new Map(); // room → Map(room → example "file → import")
  for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith(".ts") || entry.name.endsWith(".test.ts")) continue;
    const file = join(entry.parentPath, entry.name);
    const from = room(file);
    for (const [, spec] of readFileSync(file, "utf8").matchAll(/(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g)) {
      const to = room(resolve(dirname(file), spec));
      if (to === from || to.startsWith("..")) continue;
      if (!edges.has(from)) edges.set(from, new Map());
      if (!edges.get(from).has(to)) edges.get(from).set(to, `${relative(root, file)} → ${spec}`);
    }
  }
  // Depth-first search; a back edge closes a cycle.
  const state = new Map();
  const path = [];
  const visit = (node) => {
    state.set(node, "open");
    path.push(node);
    for (const next of edges.get(node)?.keys() ?? []) {
      if (state.get(next) === "open") {
        const cycle = [...path.slice(path.indexOf(next)), next];
        const why = cycle.slice(0, -1).map((n, i) => `  ${edges.get(n).get(cycle[i + 1])}`);
        console.error(`folder cycle in ${relative(process.cwd(), root)}: ${cycle.join(" → ")}\n${why.join("\n")}`);
        failed = true;
      } else if (!state.has(next)) visit(next);
    }
    path.pop();
    state.set(node, "done");
  };
  for (const node of edges.keys()) if (!state.has(node)) visit(node);
}
if (failed) process.exit(1);
console.log(`no folder cycles in ${roots.join(", ")}`);
