/**
 * Reads a V8 `.cpuprofile` (written by `node --cpu-prof`) and sums self time by function and by
 * area (a file of ours, a dependency, Node internals, GC). `npm run bench -- --profile` profiles the
 * serving bridge and prints this; it also runs alone:
 *
 *   node --import tsx bench/profile.ts <file.cpuprofile> [top]
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Self time of one function or area, in ms and as a share of the busy (non-idle) time. */
export interface ProfileRow {
  name: string;
  ms: number;
  share: number;
}

export interface ProfileSummary {
  /** Sampled time, ms, without `(idle)`. */
  busyMs: number;
  functions: ProfileRow[];
  areas: ProfileRow[];
}

/** Where a frame's code lives: our package source, a dependency, Node itself, or V8. */
function areaOf(url: string, functionName: string): string {
  if (url === "") return functionName.startsWith("(") ? functionName : "(native)";
  const ours = /\/(packages|examples|bench)\/([^/]+)\/(?:src\/)?(.+)$/.exec(url);
  if (ours) return ours[1] === "bench" ? `bench/${ours[2]}` : `${ours[2]}/${ours[3]}`;
  const dep = /\/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (dep) return dep[1]!;
  if (url.startsWith("node:")) return url.replace(/^node:internal\/(deps\/)?/, "node:").split("/")[0]!;
  return url;
}

function shortUrl(url: string): string {
  return url.replace(/^file:\/\/.*?\/(packages|node_modules|bench)\//, "$1/");
}

/** Sums the self time of every sample of `file`; `top` rows of each table. */
export function summariseProfile(file: string, top = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const functions = new Map<string, number>();
  const areas = new Map<string, number>();
  let busy = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]!);
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    if (!node || node.callFrame.functionName === "(idle)") continue;
    busy += ms;
    const { functionName, url, lineNumber } = node.callFrame;
    const name = url ? `${functionName || "(anonymous)"} ${shortUrl(url)}:${lineNumber + 1}` : functionName;
    functions.set(name, (functions.get(name) ?? 0) + ms);
    const area = areaOf(url, functionName);
    areas.set(area, (areas.get(area) ?? 0) + ms);
  }
  const rows = (map: Map<string, number>) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, ms]) => ({ name, ms: Math.round(ms), share: busy > 0 ? ms / busy : 0 }));
  return { busyMs: Math.round(busy), functions: rows(functions), areas: rows(areas) };
}

/** The summary as text: two tables, self time and share of busy time. */
export function formatProfile(summary: ProfileSummary): string {
  const table = (title: string, rows: ProfileRow[]) =>
    [
      title,
      ...rows.map((r) => `  ${(r.share * 100).toFixed(1).padStart(5)}%  ${String(r.ms).padStart(6)} ms  ${r.name}`),
    ].join("\n");
  return [
    `busy ${summary.busyMs} ms (idle excluded)`,
    table("self time by area:", summary.areas),
    table("self time by function:", summary.functions),
  ].join("\n");
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [file, top] = process.argv.slice(2);
  if (!file) {
    process.stderr.write("usage: profile.ts <file.cpuprofile> [top]\n");
    process.exit(2);
  }
  process.stdout.write(`${formatProfile(summariseProfile(file, Number(top ?? 25)))}\n`);
}
