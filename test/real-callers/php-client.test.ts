import { spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { HelplineMessageRecord } from "@openchs-bridge/simulators";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, sleep } from "../reliability/support/gateway-process";
import { loadFixture, renderFixture } from "./support/fixtures";
import { COUNSELOR_REPLY, FLOW, openByFlow, repliesAtRapidPro } from "./support/flow-conversation";
import { phpJsonValue } from "./support/php-json";
import { type RecordingProxy, startRecordingProxy } from "./support/recording-proxy";
import { type CallerSystem, startCallerSystem } from "./support/system";

/** php-cli with the curl extension (Debian: php-cli php-curl), or why not. */
function phpWithCurl(): { ok: boolean; why: string } {
  const run = spawnSync("php", ["-r", "echo function_exists('curl_init') ? 'curl' : 'no-curl';"], { encoding: "utf8" });
  if (run.error) return { ok: false, why: "php is not installed" };
  if (run.stdout !== "curl") return { ok: false, why: "php has no curl extension" };
  return { ok: true, why: "" };
}

const php = phpWithCurl();
const INSTALL = "apt-get install -y php-cli php-curl";
if (!php.ok && !process.env.CI) {
  process.stderr.write(`[real-callers] the real PHP client tests are skipped: ${php.why} (${INSTALL})\n`);
}
const SCRIPT = fileURLToPath(new URL("./php/message-out.php", import.meta.url));

interface PhpRun {
  login: { status: number; data: string };
  call: { status: number; data: string };
}

/** Runs php/message-out.php (message_out() with kurl()'s curl options) against `base`. */
function messageOut(base: string, input: Record<string, unknown>): Promise<PhpRun> {
  const urls = { auth_url: `${base}token/`, send_url: `${base}chat/`, close_url: `${base}chat/` };
  return new Promise((resolve, reject) => {
    const child = spawn("php", [SCRIPT], { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      out += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      err += d;
    });
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) reject(new Error(`php exited ${code}: ${err}`));
      else resolve(JSON.parse(out) as PhpRun);
    });
    child.stdin.end(JSON.stringify({ ...urls, ...input }));
  });
}

/**
 * The real PHP client: php-cli with curl runs our stand-in of the helpline's message_out()/kurl()
 * against the real bridge, through a relay that records the bytes curl writes. Those bytes must be
 * the fixtures' (so the fixtures are what the helpline really sends), and the effects must follow.
 */
describe(`the helpline's PHP, run by php-cli with curl${php.ok ? "" : ` (skipped: ${php.why}; ${INSTALL})`}`, () => {
  if (!php.ok && process.env.CI) {
    it("php-cli with php-curl is installed (required in CI)", () => {
      expect.fail(`${php.why}: CI must run \`${INSTALL}\` (see .ci/run)`);
    });
    return;
  }

  let s: CallerSystem;
  let relay: RecordingProxy;
  let msg: HelplineMessageRecord;
  let base: string;

  beforeAll(async () => {
    if (!php.ok) return;
    s = await startCallerSystem();
    msg = await openByFlow(s);
    relay = await startRecordingProxy(s.gateway.port);
    base = `http://127.0.0.1:${relay.port}${new URL(s.gateway.url).pathname}`;
  });
  afterAll(async () => {
    await relay?.close();
    await s?.close();
  });

  const counselor = () => ({
    username: s.values["helpline.username"],
    password: s.values["helpline.password"],
    o: { src_address: msg.from, src_msg: COUNSELOR_REPLY, src_callid: msg.sessionId, src: msg.channel },
    p: { src_usr: "101" },
  });

  /** The request bytes of the last two connections (login, call) against the fixtures, filled alike. */
  function expectBytesOfFixtures(call: string, token: string) {
    const values = {
      ...s.values,
      host: `127.0.0.1:${relay.port}`,
      token,
      "msg.from": msg.from,
      "msg.session_id": msg.sessionId,
      "msg.channel": msg.channel,
    };
    const [login, sent] = relay.connections.slice(-2);
    expect(login?.toString("utf8")).toBe(
      renderFixture(loadFixture("helpline-php-login"), values).bytes.toString("utf8"),
    );
    expect(sent?.toString("utf8")).toBe(renderFixture(loadFixture(call), values).bytes.toString("utf8"));
  }

  it.skipIf(!php.ok)(
    "logs in and posts the reply: curl's bytes are the fixtures', the reply reaches RapidPro once",
    async () => {
      const run = await messageOut(base, { ...counselor(), close: false });
      const token = phpJsonValue(run.login.data, "token");
      expect(token, `login answered ${run.login.status}: ${run.login.data}`).not.toBe("");
      expectBytesOfFixtures("helpline-php-reply", token);
      expect(run.call.status, run.call.data).toBeGreaterThanOrEqual(200);
      expect(run.call.status, run.call.data).toBeLessThan(300);
      await eventually("the reply at RapidPro", () => repliesAtRapidPro(s, COUNSELOR_REPLY).length > 0);
      expect(repliesAtRapidPro(s, COUNSELOR_REPLY)[0]!.contacts).toContain(FLOW.contact);
      await sleep(500);
      expect(repliesAtRapidPro(s, COUNSELOR_REPLY)).toHaveLength(1);
    },
  );

  it.skipIf(!php.ok)("logs in and closes: curl's bytes are the fixtures', the close flow starts once", async () => {
    const run = await messageOut(base, { ...counselor(), close: true });
    const token = phpJsonValue(run.login.data, "token");
    expect(token, `login answered ${run.login.status}: ${run.login.data}`).not.toBe("");
    expectBytesOfFixtures("helpline-php-close", token);
    expect(run.call.status, run.call.data).toBeGreaterThanOrEqual(200);
    expect(run.call.status, run.call.data).toBeLessThan(300);
    const starts = () => s.rapidpro.state.flowStarts.filter((f) => f.contacts.includes(FLOW.contact));
    await eventually("the close flow started for the contact", () => starts().length > 0);
    await sleep(500);
    expect(starts()).toHaveLength(1);
  });
});
