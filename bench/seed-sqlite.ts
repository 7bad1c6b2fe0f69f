/**
 * Seeds a sqlite database for the memory scenario, without HTTP: one conversation is played through
 * the bridge's programmatic API on `createSqliteStore` (client and counselor messages alternately,
 * each delivered, so its rows are exactly what the bridge writes), then its rows are copied by SQL
 * to `count` conversations (new ids, new message uuids), in one transaction. Run by `bench/run.ts`
 * (forked).
 *
 * Usage: seed-sqlite.ts <file> <conversations> <messages per conversation>
 */
import { DatabaseSync } from "node:sqlite";
import { createBridge } from "@openchs-bridge/core";
import { createSqliteStore } from "@openchs-bridge/core/sqlite";
import { CONSUMER, nowMs } from "./lib";

const [file = "", countArg = "100000", perArg = "10"] = process.argv.slice(2);
const count = Number(countArg);
const perConversation = Number(perArg);
const started = nowMs();

const store = createSqliteStore({ path: file, synchronous: "NORMAL" });
const accept = async () => {};
const bridge = createBridge({
  store,
  helplines: { deliverMessage: accept, notifyClose: accept },
  chatbot: { deliverMessage: accept, notifyClose: accept },
  consumers: [{ ...CONSUMER, sources: ["WENI"] }],
});
for (let k = 0; k < perConversation; k++) {
  if (k % 2 === 0) {
    await bridge.conversations.acceptClientMessage({
      conversationId: "bench_0",
      messageId: `client-${k}`,
      text: `Client message ${k}: I do not feel safe at home and I do not know who to tell`,
      contact: "c0ffee00-0000-4000-8000-000000000000",
      senderName: "Child",
    });
  } else {
    await bridge.conversations.acceptCounselorMessage({
      conversationId: "bench_0",
      messageId: `counselor-${k}`,
      text: `Counselor reply ${k}: thank you for telling me, you did the right thing. Are you safe now?`,
      counselorName: "Counselor A",
    });
  }
  await bridge.runDue();
}
await store.close();

const db = new DatabaseSync(file);
// A bulk load of a scratch file: no journal (written once, not twice), a large page cache.
db.exec("PRAGMA journal_mode = OFF");
db.exec("PRAGMA synchronous = OFF");
db.exec("PRAGMA cache_size = -262144");
db.exec("BEGIN");
const numbers = `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${count - 1})`;
db.exec(`${numbers}
  INSERT INTO conversations (id, state, hunt_deadline, closed_at_ms, version, data)
  SELECT 'bench_' || i, state, hunt_deadline, closed_at_ms, version, json_set(data, '$.id', 'bench_' || i)
  FROM conversations, n WHERE id = 'bench_0' ORDER BY i`);
db.exec(`${numbers}
  INSERT INTO messages (uuid, conversation_id, direction, message_id, text_hash, created_at_ms, data)
  SELECT u, 'bench_' || i, direction, message_id, text_hash, created_at_ms,
         json_set(data, '$.uuid', u, '$.conversationId', 'bench_' || i)
  FROM (SELECT printf('%08x-0000-4000-8000-%012x', i, seq) AS u, i, m.*
        FROM messages m, n WHERE m.conversation_id = 'bench_0' ORDER BY i, seq)`);
db.exec("COMMIT");
db.exec("PRAGMA journal_mode = WAL");
const conversations = Number(db.prepare("SELECT COUNT(*) AS n FROM conversations").get()?.n);
const messages = Number(db.prepare("SELECT COUNT(*) AS n FROM messages").get()?.n);
const jobs = Number(db.prepare("SELECT COUNT(*) AS n FROM jobs").get()?.n);
db.close();

process.send?.({ type: "ready", conversations, messages, jobs, seconds: (nowMs() - started) / 1000 });
process.on("disconnect", () => process.exit(0));
