/**
 * The oldest Node.js the packages run on: 22.13, the first release with `node:sqlite` unflagged
 * (the default store). Every package.json says `"engines": { "node": ">=22.13" }`.
 */
const NODE_FLOOR = "22.13";

/** The one line `openchs-bridge` prints on an older Node, or `undefined` when `version` is recent enough. */
export function nodeVersionProblem(version: string): string | undefined {
  const [major = 0, minor = 0] = version.split(".").map(Number);
  const [floorMajor, floorMinor] = NODE_FLOOR.split(".").map(Number) as [number, number];
  if (major > floorMajor || (major === floorMajor && minor >= floorMinor)) return undefined;
  return `openchs-bridge: Node.js ${NODE_FLOOR} or newer is required (this is ${version})`;
}
