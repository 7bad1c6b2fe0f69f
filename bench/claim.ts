/**
 * What a claim costs while a helpline is down: `claimDueJobs` with 0, 1,000 and 10,000 jobs waiting
 * behind lane heads that are not due (100 conversations, each head waiting for its next round with
 * due jobs queued behind it), `outboxStats` over a large outbox, and `conversationCounts` (the
 * metrics' and console's conversations by state) over many conversations. Run by `bench/run.ts` (forked),
 * on the stores named: `memory`, `sqlite` (a file), `postgres` (a scratch schema on `DATABASE_URL`,
 * dropped at the end).
 *
 * Every claim must return exactly one job (a due head of another lane): the figures are reported,
 * a wrong answer is a problem.
 *
 * Usage: claim.ts <dir> <store,store,…> <waiting,waiting,…> <claims per size> <outbox size for outboxStats>
 *                 <conversations for conversationCounts>
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { type Conversation, createMemoryStore, type NewOutboxJob, type Store } from "@openchs-bridge/core";
import { createPostgresStore } from "@openchs-bridge/core/postgres";
import { createSqliteStore } from "@openchs-bridge/core/sqlite";
import { median, nowMs } from "./lib";

const [
  dir = ".",
  storesArg = "memory,sqlite",
  waitingArg = "0,1000,10000",
  claimsArg = "200",
  statsArg = "100000",
  countsArg = "100000",
] = process.argv.slice(2);
const stores = storesArg.split(",").filter(Boolean);
const sizes = waitingArg.split(",").map(Number);
const claims = Number(claimsArg);
const statsJobs = Number(statsArg);
const countConversations = Number(countsArg);
/** Conversations whose heads are not due, with the waiting jobs spread over them. */
const BLOCKED_LANES = 100;
const NOW = Date.parse("2026-01-01T00:00:00.000Z");
const LATER = NOW + 3_600_000;

export interface ClaimFigures {
  store: string;
  /** Per size of the waiting queue: the median and p90 time of one claim, ms. */
  claim: { waiting: number; claims: number; medianMs: number; p90Ms: number }[];
  /** `outboxStats` over `jobs` pending jobs (and a few dead): median of 20 calls, ms. */
  stats: { jobs: number; medianMs: number; seedSeconds: number };
  /** `conversationCounts` over `conversations` in the four states: median of 20 calls, ms. */
  counts: { conversations: number; medianMs: number; seedSeconds: number };
  problems: string[];
}

function conversation(id: string, state: Conversation["state"] = "connected"): Conversation {
  const at = new Date(NOW).toISOString();
  return {
    id,
    state,
    origin: "webhook",
    helpline: "default",
    contact: "c0ffee00-0000-4000-8000-000000000000",
    huntCount: 0,
    createdAt: at,
    updatedAt: at,
    version: 1,
  };
}

function job(conversationId: string, nextAttemptAt: number, i = 0): NewOutboxJob {
  return {
    conversationId,
    lane: "helpline",
    kind: "message",
    payload: {},
    attempts: 0,
    nextAttemptAt,
    createdAt: new Date(NOW - 1_000_000 + i).toISOString(),
  };
}

interface Opened {
  store: Store;
  /**
   * Writes conversations with their jobs. Through the store's own transactions (50 conversations
   * each), except on PostgreSQL, where a round trip per job would take minutes: there, rows as the
   * store writes them, in one INSERT per table.
   */
  seed: (lanes: { id: string; jobs: NewOutboxJob[] }[]) => Promise<void>;
  /** Writes conversations without jobs, in bulk (the same way as `seed`). */
  seedConversations: (conversations: Conversation[]) => Promise<void>;
  drop: () => Promise<void>;
}

async function seedThroughStore(store: Store, lanes: { id: string; jobs: NewOutboxJob[] }[]): Promise<void> {
  for (let start = 0; start < lanes.length; start += 50) {
    await store.transaction(async (tx) => {
      for (const lane of lanes.slice(start, start + 50)) {
        if (!(await tx.getConversation(lane.id))) await tx.insertConversation(conversation(lane.id));
        for (const j of lane.jobs) await tx.enqueueJob(j);
      }
    });
  }
}

async function open(name: string, tag: string): Promise<Opened> {
  const through = (store: Store): Opened => ({
    store,
    seed: (lanes) => seedThroughStore(store, lanes),
    seedConversations: async (conversations) => {
      for (let start = 0; start < conversations.length; start += 1000) {
        await store.transaction(async (tx) => {
          for (const c of conversations.slice(start, start + 1000)) await tx.insertConversation(c);
        });
      }
    },
    drop: async () => {},
  });
  if (name === "memory") return through(createMemoryStore());
  if (name === "sqlite") return through(createSqliteStore({ path: join(dir, `${tag}.db`), synchronous: "NORMAL" }));
  if (name === "postgres") {
    const url = process.env.DATABASE_URL;
    if (!url) throw new Error("the postgres claim figures need DATABASE_URL");
    const schema = `bench_${randomBytes(6).toString("hex")}`;
    const store = createPostgresStore({ connectionString: url, schema, maxConnections: 4 });
    await store.ready();
    const pg = (await import("pg")).default;
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    const seed = async (lanes: { id: string; jobs: NewOutboxJob[] }[]) => {
      const ids = lanes.map((l) => l.id);
      await pool.query(
        `INSERT INTO ${schema}.conversations (id, state, version, data)
         SELECT id, 'connected', 1, data FROM unnest($1::text[], $2::text[]) AS c(id, data)`,
        [ids, ids.map((id) => JSON.stringify(conversation(id)))],
      );
      // Each lane's first job is its head (is_head), as the store's enqueue would have marked it.
      const jobs = lanes.flatMap((l) => l.jobs.map((j, i) => ({ ...j, head: i === 0 })));
      await pool.query(
        `INSERT INTO ${schema}.jobs (conversation_id, lane, attempts, next_attempt_at, created_at_ms, data, is_head)
         SELECT c, 'helpline', 0, n, m, d, h
         FROM unnest($1::text[], $2::float8[], $3::float8[], $4::text[], $5::bool[]) WITH ORDINALITY AS j(c, n, m, d, h, o)
         ORDER BY o`,
        [
          jobs.map((j) => j.conversationId),
          jobs.map((j) => j.nextAttemptAt),
          jobs.map((j) => Date.parse(j.createdAt)),
          jobs.map(({ attempts: _a, nextAttemptAt: _n, head: _h, ...rest }) => JSON.stringify(rest)),
          jobs.map((j) => j.head),
        ],
      );
      // What autovacuum does on a live database: without statistics the planner guesses.
      await pool.query(`ANALYZE ${schema}.jobs`);
    };
    const seedConversations = async (conversations: Conversation[]) => {
      await pool.query(
        `INSERT INTO ${schema}.conversations (id, state, version, data)
         SELECT id, state, 1, data FROM unnest($1::text[], $2::text[], $3::text[]) AS c(id, state, data)`,
        [
          conversations.map((c) => c.id),
          conversations.map((c) => c.state),
          conversations.map((c) => JSON.stringify(c)),
        ],
      );
      await pool.query(`ANALYZE ${schema}.conversations`);
    };
    const drop = async () => {
      await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await pool.end();
    };
    return { store, seed, seedConversations, drop };
  }
  throw new Error(`unknown store ${name}: memory, sqlite or postgres`);
}

async function measure(name: string): Promise<ClaimFigures> {
  const problems: string[] = [];
  const claim: ClaimFigures["claim"] = [];
  for (const waiting of sizes) {
    const { store, seed, drop } = await open(name, `claim-${waiting}`);
    try {
      // The helpline down: each blocked lane's head waits an hour, its queue (due now) behind it.
      const perLane = Math.ceil(waiting / BLOCKED_LANES);
      const blocked = Array.from({ length: waiting > 0 ? BLOCKED_LANES : 0 }, (_, c) => ({
        id: `down_${c}`,
        jobs: [job(`down_${c}`, LATER), ...Array.from({ length: perLane }, (_, i) => job(`down_${c}`, NOW, i))],
      }));
      // The lanes that can go: one due job each, one claimed per call.
      const up = Array.from({ length: claims }, (_, c) => ({ id: `up_${c}`, jobs: [job(`up_${c}`, NOW)] }));
      await seed(blocked);
      await seed(up);
      const times: number[] = [];
      for (let i = 0; i < claims; i++) {
        const t0 = nowMs();
        const got = await store.claimDueJobs({ now: NOW, limit: 1, owner: "bench", leaseMs: 60_000 });
        times.push(nowMs() - t0);
        if (got.length !== 1 || !got[0]?.conversationId.startsWith("up_")) {
          problems.push(`${name}: claim ${i} with ${waiting} waiting returned ${got.map((j) => j.conversationId)}`);
          break;
        }
      }
      times.sort((a, b) => a - b);
      claim.push({
        waiting: blocked.reduce((sum, lane) => sum + lane.jobs.length - 1, 0),
        claims,
        medianMs: median(times),
        p90Ms: times[Math.floor(times.length * 0.9)] ?? Number.NaN,
      });
    } finally {
      await store.close();
      await drop();
    }
  }

  // outboxStats over a large outbox: 1,000 lanes, a few dead jobs.
  const { store, seed, drop } = await open(name, "stats");
  try {
    const t0 = nowMs();
    const lanes = 1000;
    const perLane = Math.ceil(statsJobs / lanes);
    await seed(
      Array.from({ length: lanes }, (_, c) => ({
        id: `stats_${c}`,
        jobs: Array.from({ length: perLane }, (_, i) => job(`stats_${c}`, LATER, i)),
      })),
    );
    const [first] = await store.pendingJobs("stats_0");
    if (first) {
      await store.transaction((tx) =>
        tx.deadLetterJob(first.id, { attempts: 9, deadAt: NOW, lastError: { code: "unavailable", status: 503 } }),
      );
    }
    const seedSeconds = (nowMs() - t0) / 1000;
    const times: number[] = [];
    let counted = -1;
    for (let i = 0; i < 20; i++) {
      const s0 = nowMs();
      const stats = await store.outboxStats(NOW);
      times.push(nowMs() - s0);
      counted = stats.pending + stats.deadLetters;
    }
    if (counted !== lanes * perLane)
      problems.push(`${name}: outboxStats counted ${counted} of ${lanes * perLane} jobs`);
    const stats = { jobs: lanes * perLane, medianMs: median(times), seedSeconds };
    return { store: name, claim, stats, counts: await measureCounts(name), problems };
  } finally {
    await store.close();
    await drop();
  }

  /** conversationCounts over `countConversations` conversations, a quarter in each state. */
  async function measureCounts(name: string): Promise<ClaimFigures["counts"]> {
    const STATES = ["requested", "hunting", "connected", "closed"] as const;
    const { store, seedConversations, drop } = await open(name, "counts");
    try {
      const t0 = nowMs();
      await seedConversations(
        Array.from({ length: countConversations }, (_, i) => conversation(`count_${i}`, STATES[i % STATES.length])),
      );
      const seedSeconds = (nowMs() - t0) / 1000;
      const times: number[] = [];
      let total = -1;
      for (let i = 0; i < 20; i++) {
        const s0 = nowMs();
        const counts = await store.conversationCounts();
        times.push(nowMs() - s0);
        total = Object.values(counts).reduce((sum, n) => sum + n, 0);
      }
      if (total !== countConversations) {
        problems.push(`${name}: conversationCounts counted ${total} of ${countConversations} conversations`);
      }
      return { conversations: countConversations, medianMs: median(times), seedSeconds };
    } finally {
      await store.close();
      await drop();
    }
  }
}

const results: ClaimFigures[] = [];
for (const name of stores) results.push(await measure(name));
process.send?.({ type: "ready", results });
process.on("disconnect", () => process.exit(0));
