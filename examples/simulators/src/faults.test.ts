import { createOpenChsHelplineClient } from "@openchs-bridge/openchs-client";
import { createRapidProClient } from "@openchs-bridge/rapidpro-adapter";
import { afterEach, describe, expect, it } from "vitest";
import { createFaultSwitch, validateFaultConfig } from "./faults";
import { DEFAULT_HELPLINE_USER, type HelplineSimulator, startHelplineSimulator } from "./helpline-simulator";
import { type RapidProSimulator, startRapidProSimulator } from "./rapidpro-simulator";

describe("fault switch", () => {
  it("hits only the next `count` matching requests, then turns itself off", () => {
    const faults = createFaultSwitch();
    faults.set({ mode: "5xx", count: 2, paths: ["msg/"] });
    expect(faults.pick("POST", "/helpline/api/")).toBeUndefined();
    expect(faults.pick("POST", "/helpline/api/msg/")?.mode).toBe("5xx");
    expect(faults.pick("POST", "/helpline/api/msg/")?.status).toBe(503);
    expect(faults.pick("POST", "/helpline/api/msg/")).toBeUndefined();
    expect(faults.current.mode).toBe("none");
    expect(faults.injected["5xx"]).toBe(2);
  });

  it("draws `rate` from a seeded generator: the same seed gives the same hits", () => {
    const run = (seed: number) => {
      const faults = createFaultSwitch();
      faults.set({ mode: "drop", rate: 0.3, seed });
      return Array.from({ length: 200 }, () => (faults.pick("GET", "/x") ? 1 : 0));
    };
    const a = run(7);
    expect(run(7)).toEqual(a);
    expect(run(8)).not.toEqual(a);
    const hits = a.reduce<number>((sum, hit) => sum + hit, 0);
    expect(hits).toBeGreaterThan(40);
    expect(hits).toBeLessThan(80);
  });

  it("filters by method and never touches the admin API", () => {
    const faults = createFaultSwitch();
    faults.set({ mode: "429", methods: ["post"], retryAfterS: 7 });
    expect(faults.pick("GET", "/api/v2/contacts.json")).toBeUndefined();
    expect(faults.pick("POST", "/__sim/faults")).toBeUndefined();
    expect(faults.pick("POST", "/api/v2/broadcasts.json")).toEqual({
      mode: "429",
      status: 503,
      delayMs: 2000,
      retryAfterS: 7,
    });
  });

  it("refuses a bad config, naming the field", () => {
    expect(() => validateFaultConfig({ mode: "explode" })).toThrow(/mode must be one of/);
    expect(() => validateFaultConfig({ mode: "drop", rate: 2 })).toThrow(/rate/);
    expect(() => validateFaultConfig({ mode: "drop", count: 0 })).toThrow(/count/);
    expect(() => validateFaultConfig({ mode: "5xx", status: 404 })).toThrow(/status/);
    expect(() => validateFaultConfig({ mode: "slow", delayMs: -1 })).toThrow(/delayMs/);
    expect(() => validateFaultConfig({ mode: "drop", paths: [] })).toThrow(/paths/);
    expect(() => validateFaultConfig(null)).toThrow(/object/);
  });
});

describe("faults on the running simulators", () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    while (cleanup.length) await cleanup.pop()!();
  });
  const BASIC = `Basic ${Buffer.from(`${DEFAULT_HELPLINE_USER.username}:${DEFAULT_HELPLINE_USER.password}`).toString("base64")}`;

  async function helpline(): Promise<{ sim: HelplineSimulator; session: string }> {
    const sim = await startHelplineSimulator({ counselors: [] });
    cleanup.push(() => sim.close());
    const login = (await (await fetch(sim.url, { headers: { authorization: BASIC } })).json()) as { ss: string[][] };
    return { sim, session: login.ss[0]![0]! };
  }

  async function rapidpro(): Promise<RapidProSimulator> {
    const sim = await startRapidProSimulator({ flavour: "v7" });
    cleanup.push(() => sim.close());
    return sim;
  }

  const send = (sim: HelplineSimulator, session: string, id: string) =>
    fetch(`${sim.url}msg/`, {
      method: "POST",
      headers: { authorization: `Bearer ${session}`, "content-type": "application/json" },
      body: JSON.stringify({ channel: "chat", session_id: "c1", message_id: id, from: "x", message: "hi" }),
    });

  it("drop: the socket closes before anything is stored", async () => {
    const { sim, session } = await helpline();
    sim.faults.set({ mode: "drop", count: 1 });
    await expect(send(sim, session, "m1")).rejects.toThrow();
    expect(sim.state.messages()).toHaveLength(0);
    expect((await send(sim, session, "m1")).status).toBe(201);
    expect(sim.state.requests.map((r) => r.status)).toEqual([200, null, 201]);
  });

  it("drop-after: the message is stored, the answer never comes, and the retry is deduplicated", async () => {
    const { sim, session } = await helpline();
    const dropped = sim.waitFor("fault");
    sim.faults.set({ mode: "drop-after", count: 1, paths: ["msg/"] });
    await expect(send(sim, session, "m1")).rejects.toThrow();
    expect(await dropped).toEqual({ mode: "drop-after", method: "POST", path: "/helpline/api/msg/" });
    expect(sim.state.messages().map((m) => m.messageId)).toEqual(["m1"]);
    expect((await send(sim, session, "m1")).status).toBe(201);
    expect(sim.state.messages()).toHaveLength(1);
    expect(sim.state.received("c1", "m1")).toBe(2);
  });

  it("drop-after with the bridge's helpline client: it retries, and the helpline keeps the message once", async () => {
    const { sim } = await helpline();
    const client = createOpenChsHelplineClient({
      baseUrl: sim.url,
      ...DEFAULT_HELPLINE_USER,
      retry: { limit: 2, minDelayMs: 1, maxDelayMs: 5, jitter: false },
    });
    sim.faults.set({ mode: "drop-after", count: 1, paths: ["msg/"] });
    const result = await client.sendMessage({ session_id: "c2", message_id: "once", from: "x", message: "hi" });
    expect(result.status).toBe(201);
    expect(sim.state.messages("c2")).toHaveLength(1);
    expect(sim.state.received("c2", "once")).toBe(2);
    expect(sim.state.duplicates).toHaveLength(1);
  });

  it("5xx: the chosen status in the helpline's error shape, nothing stored", async () => {
    const { sim, session } = await helpline();
    sim.faults.set({ mode: "5xx", status: 502 });
    const res = await send(sim, session, "m1");
    expect(res.status).toBe(502);
    expect(((await res.json()) as { errors: unknown[][] }).errors[0]![0]).toBe("error");
    expect(sim.state.messages()).toHaveLength(0);
  });

  it("slow: the answer waits delayMs", async () => {
    const { sim, session } = await helpline();
    sim.faults.set({ mode: "slow", delayMs: 150, count: 1 });
    const started = performance.now();
    expect((await send(sim, session, "m1")).status).toBe(201);
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
  });

  it("slow beyond the client's timeout: the client gives up, the helpline still stores the message", async () => {
    const { sim } = await helpline();
    const client = createOpenChsHelplineClient({
      baseUrl: sim.url,
      ...DEFAULT_HELPLINE_USER,
      timeoutMs: 50,
      retry: false,
    });
    await client.sendMessage({ session_id: "c3", message_id: "warmup", from: "x", message: "login first" });
    sim.faults.set({ mode: "slow", delayMs: 150, count: 1 });
    await expect(
      client.sendMessage({ session_id: "c3", message_id: "late", from: "x", message: "hi" }),
    ).rejects.toMatchObject({ code: "timeout" });
    await sim.waitFor("message.stored", (e) => e.messageId === "late", 2000);
  });

  it("429 on RapidPro: Retry-After, RapidPro's body, and the adapter's client waits it out", async () => {
    const sim = await rapidpro();
    sim.faults.set({ mode: "429", retryAfterS: 0, count: 1, paths: ["broadcasts.json"] });
    const client = createRapidProClient({
      baseUrl: sim.url,
      token: sim.token,
      flavour: "v7",
      retry: { limit: 1, minDelayMs: 1, jitter: false },
    });
    const sent = await client.broadcasts.create({ contacts: ["0d7a3c2e-5b1f-4c8e-9a6d-2f4b8c1e7a90"], text: "hi" });
    expect(sent.contacts).toHaveLength(1);
    expect(sim.state.requests.map((r) => [r.status, r.fault])).toEqual([
      [429, "429"],
      [201, undefined],
    ]);
    sim.faults.set({ mode: "429", retryAfterS: 3 });
    const res = await fetch(`${sim.url}contacts.json`, { headers: { authorization: `Token ${sim.token}` } });
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("3");
    expect(await res.json()).toEqual({ detail: "Request was throttled. Expected available in 3 seconds." });
  });

  it("5xx on RapidPro answers an HTML error page and records nothing", async () => {
    const sim = await rapidpro();
    sim.faults.set({ mode: "5xx", status: 500, paths: ["broadcasts.json"] });
    const res = await fetch(`${sim.url}broadcasts.json`, {
      method: "POST",
      headers: { authorization: `Token ${sim.token}` },
      body: JSON.stringify({ contacts: ["a"], text: "x" }),
    });
    expect(res.status).toBe(500);
    expect(res.headers.get("content-type")).toContain("text/html");
    expect(sim.state.broadcasts).toHaveLength(0);
  });

  it("is switched over HTTP with POST /__sim/faults (400 for a bad config) and cleared with DELETE", async () => {
    const sim = await rapidpro();
    const set = await fetch(`${sim.origin}/__sim/faults`, {
      method: "POST",
      body: JSON.stringify({ mode: "drop", paths: ["/acks"], count: 3 }),
    });
    expect(set.status).toBe(200);
    expect(await set.json()).toMatchObject({ faults: { mode: "drop", remaining: 3, paths: ["/acks"] } });
    await expect(fetch(sim.ackUrl, { method: "POST", body: "{}" })).rejects.toThrow();
    const bad = await fetch(`${sim.origin}/__sim/faults`, { method: "POST", body: JSON.stringify({ mode: "nope" }) });
    expect(bad.status).toBe(400);
    expect(sim.faults.current).toMatchObject({ mode: "drop", remaining: 2 });
    await fetch(`${sim.origin}/__sim/faults`, { method: "DELETE" });
    expect(sim.faults.current.mode).toBe("none");
    const status = (await (await fetch(`${sim.origin}/__sim/faults`)).json()) as { injected: { drop: number } };
    expect(status.injected.drop).toBe(1);
  });
});
