// Docs never point at files that are not in the repository: every relative link (and its #anchor,
// when it points into a Markdown file) and every backticked repository path such as
// `packages/core/src/index.ts` in README.md, docs/*.md and the packages' and examples' READMEs must
// exist. Run by .ci/run (`npm run check:links`); prints one line per broken reference, exits 1.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
/** Top-level folders a backticked path must start with to count as a repository path. */
const REPO_DIRS = ["packages", "examples", "test", "docs", "scripts", "bench", ".ci", ".changeset"];
/** Files the tools write and git ignores (.gitignore): they exist only after running the tool. */
const GENERATED = [
  "docs/api/", // `npm run docs`
  "bench/results.json", // `npm run bench`
];
/** Paths that look like ours and are not, each with why: `file` → paths. */
const NOT_OURS = {
  "docs/rapidpro.md": ["test/testdata/runner/webhook_results.json"], // a file of nyaruka/goflow
  "docs/simulators.md": ["examples/sandbox"], // the folder's former name, said as such
  "examples/simulators/README.md": ["examples/sandbox"],
};

function markdownFiles() {
  const files = ["README.md"];
  for (const dir of ["docs", ...["packages", "examples"].flatMap((d) => subdirs(d))]) {
    if (!existsSync(join(ROOT, dir))) continue;
    for (const name of readdirSync(join(ROOT, dir))) if (name.endsWith(".md")) files.push(join(dir, name));
  }
  return files;
}

function subdirs(dir) {
  return readdirSync(join(ROOT, dir), { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => join(dir, d.name));
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors(markdown) {
  const seen = new Map();
  const out = new Set();
  for (const line of withoutFences(markdown)) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const base = heading[1]
      .replace(/`/g, "")
      .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, "")
      .replace(/\s/g, "-");
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    out.add(count === 0 ? base : `${base}-${count}`);
  }
  return out;
}

/** The lines outside fenced code blocks (examples there are not links). */
function withoutFences(markdown) {
  let fenced = false;
  return markdown.split("\n").filter((line) => {
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced;
      return false;
    }
    return !fenced;
  });
}

export function brokenReferences(file) {
  const text = readFileSync(join(ROOT, file), "utf8");
  const lines = withoutFences(text).join("\n");
  const problems = [];
  for (const [, target] of lines.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, https:, mailto:
    const [path, anchor] = target.split("#");
    const absolute = path === "" ? join(ROOT, file) : resolve(ROOT, dirname(file), decodeURIComponent(path));
    if (!existsSync(absolute)) {
      problems.push(`${file}: link to ${target}: no such file`);
    } else if (anchor && absolute.endsWith(".md") && statSync(absolute).isFile()) {
      if (!anchors(readFileSync(absolute, "utf8")).has(anchor)) {
        problems.push(`${file}: link to ${target}: no heading #${anchor} in ${relative(ROOT, absolute)}`);
      }
    }
  }
  for (const [, code] of lines.matchAll(/`([^`\n]+)`/g)) {
    const path = code.replace(/(:\d+(-\d+)?|#L\d+(-L\d+)?)$/, "");
    if (!REPO_DIRS.some((dir) => path.startsWith(`${dir}/`))) continue;
    if (!/^[\w./@-]+$/.test(path)) continue; // globs, placeholders (…, <name>), commands
    if (NOT_OURS[file]?.includes(path) || GENERATED.some((g) => path.startsWith(g))) continue;
    if (!existsSync(join(ROOT, path))) problems.push(`${file}: \`${code}\`: no such file`);
  }
  return problems;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const files = markdownFiles();
  const problems = files.flatMap(brokenReferences);
  for (const problem of problems) console.error(problem);
  if (problems.length > 0) process.exit(1);
  console.log(`${files.length} Markdown files: every link and repository path exists.`);
}
