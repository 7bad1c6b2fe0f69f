// The `openchs-bridge` command. The Node version is checked before anything else loads: the commands
// import `node:sqlite`, which an older Node lacks, and that would be a stack trace instead of a
// sentence. Static imports are all evaluated before a module's body, so the commands are loaded
// dynamically, after the check (node-version.ts imports nothing).
import { nodeVersionProblem } from "./node-version";

const problem = nodeVersionProblem(process.versions.node);
if (problem !== undefined) {
  process.stderr.write(`${problem}\n`);
  process.exitCode = 1;
} else {
  import("./commands").then(
    ({ main }) => main(process.argv.slice(2)),
    (error: unknown) => {
      process.stderr.write(`openchs-bridge: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
