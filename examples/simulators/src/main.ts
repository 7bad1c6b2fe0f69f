/**
 * `npm start` (in examples/simulators): both simulators on loopback, the environment for
 * `openchs-bridge serve`, then a live transcript until Ctrl-C.
 */
import process from "node:process";
import { parseSandboxConfig, SANDBOX_USAGE, startSandbox } from "./sandbox";
import { formatEvent } from "./transcript";

async function main(): Promise<void> {
  let config: ReturnType<typeof parseSandboxConfig>;
  try {
    config = parseSandboxConfig(process.argv.slice(2), process.env);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${SANDBOX_USAGE}`);
    process.exitCode = 2;
    return;
  }
  if (config === "help") {
    process.stdout.write(SANDBOX_USAGE);
    return;
  }

  const sandbox = await startSandbox(config);
  const { helpline, rapidpro } = sandbox;
  const out = (line: string) => process.stdout.write(`${line}\n`);

  out(`OpenCHS helpline simulator   ${helpline.url}   (admin: ${helpline.origin}/__sim/state)`);
  out(`RapidPro simulator (${rapidpro.flavour.padEnd(7)}) ${rapidpro.url}   (admin: ${rapidpro.origin}/__sim/state)`);
  out(`Acks endpoint                ${rapidpro.ackUrl}`);
  out(`Bridge expected at           ${config.bridgeUrl}`);
  out("");
  out("# Paste into the shell that runs `openchs-bridge serve`:");
  for (const line of sandbox.envLines) out(line);
  out("");
  out("# Then, for instance:");
  out(`#   curl -s -X POST ${rapidpro.origin}/__sim/escalate -d '{"text":"I need help"}'`);
  out(`#   curl -s -X POST ${helpline.origin}/__sim/reply -d '{"session":"<session>","text":"I am here"}'`);
  out(`#   curl -s -X POST ${helpline.origin}/__sim/faults -d '{"mode":"5xx","count":3}'`);
  out("# (docs/simulators.md lists every admin route and fault switch.)");
  out("");

  if (config.transcript) {
    const start = Date.now();
    helpline.onAny((type, payload) => out(formatEvent(start, "helpline", type, payload)));
    rapidpro.onAny((type, payload) => out(formatEvent(start, "rapidpro", type, payload)));
  }

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    out("stopping…");
    void sandbox.close().then(() => process.exit(0));
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`sandbox: ${(error as Error).message}\n`);
  process.exitCode = 1;
});
