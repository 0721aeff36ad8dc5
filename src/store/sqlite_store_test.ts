import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { emptyHead, recordToLine, sealRecord } from "./record.ts";
import { SQLITE_MIGRATIONS } from "./_sqlite_schema.ts";
import { SqliteStore } from "./sqlite_store.ts";
import { fakeLog, storeContract } from "./store_contract.ts";

storeContract("sqlite", {
  open() {
    const dir = Deno.makeTempDirSync({ prefix: "aos-sqlite-" });
    const path = join(dir, "aos.db");
    return Promise.resolve({
      store: SqliteStore.open(path),
      second: () => Promise.resolve(SqliteStore.open(path)),
    });
  },
});

Deno.test("SqliteStore keeps records across a reopen, in WAL mode", async () => {
  const path = join(Deno.makeTempDirSync({ prefix: "aos-sqlite-" }), "aos.db");
  const log = fakeLog("r1", 2);
  const store = SqliteStore.open(path);
  await store.createRun(log[0]!, { tenant: "t" });
  await store.append(log.slice(1));
  await store.close();
  const reopened = SqliteStore.open(path);
  assert.deepEqual(await reopened.readLog("r1"), log);
  await reopened.close();
  const probe = SqliteStore.open(path);
  assert.equal(probe.journalMode(), "wal");
  await probe.close();
});

Deno.test("SqliteStore migration 3 gives existing runs their pinned skills", async () => {
  const path = join(Deno.makeTempDirSync({ prefix: "aos-sqlite-" }), "aos.db");
  const db = new DatabaseSync(path);
  db.exec(
    "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
  );
  for (const migration of SQLITE_MIGRATIONS.filter((m) => m.version <= 2)) {
    db.exec(migration.sql);
    db.prepare("INSERT INTO schema_migrations VALUES (?, 0)").run(
      migration.version,
    );
  }
  const first = sealRecord(emptyHead("old"), {
    type: "RunSubmitted",
    body: {
      tenant: "t",
      pins: {
        "json_transform@1": { name: "json_transform", version: "1.1.0" },
        spin: { name: "spin", version: "1.0.0" },
      },
    },
    at: 5,
  });
  db.prepare(
    "INSERT INTO runs VALUES ('old', 't', 'succeeded', 5, 5, 0, ?)",
  ).run(first.hash);
  db.prepare("INSERT INTO records VALUES ('old', 0, 'RunSubmitted', ?)").run(
    recordToLine(first),
  );
  db.close();
  const store = SqliteStore.open(path);
  try {
    for (const skill of ["json_transform", "spin"]) {
      const page = await store.listRuns({ limit: 5, skill });
      assert.deepEqual(page.runs.map((run) => run.run_id), ["old"]);
    }
  } finally {
    await store.close();
  }
});

Deno.test("SqliteStore.claimRuns() finding nothing to claim takes no write lock", async () => {
  const path = join(Deno.makeTempDirSync({ prefix: "aos-sqlite-" }), "aos.db");
  const store = SqliteStore.open(path, { busyTimeoutMs: 50 });
  const log = fakeLog("r1", 1);
  await store.createRun(log[0]!, { tenant: "t" });
  const timing = { nowMs: 1_000, leaseMs: 10_000, limit: 8 };
  assert.equal((await store.claimRuns("a", timing)).length, 1);
  // Another process writes: an idle claim pass neither waits for it nor fails.
  const other = new DatabaseSync(path);
  other.exec("BEGIN IMMEDIATE");
  try {
    assert.deepEqual(await store.claimRuns("a", timing), []);
    assert.equal(await store.nextWakeAt(), undefined);
  } finally {
    other.exec("ROLLBACK");
    other.close();
  }
  // A run to take still goes through the write transaction.
  await store.releaseLease({ run_id: "r1", epoch: 1 });
  const [lease] = await store.claimRuns("a", timing);
  assert.equal(lease?.epoch, 2);
  await store.close();
});
