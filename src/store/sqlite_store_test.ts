import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { emptyHead, recordToLine, sealRecord } from "./record.ts";
import { SQLITE_MIGRATIONS } from "./_sqlite_schema.ts";
import { SqliteStore } from "./sqlite_store.ts";
import { fakeLog, storeContract } from "./store_contract.ts";
import type { ApiKeyRecord } from "./tenant_records.ts";

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

Deno.test("SqliteStore migration 11 keeps every record, in order, and appends go on", async () => {
  const path = join(Deno.makeTempDirSync({ prefix: "aos-sqlite-" }), "aos.db");
  const db = new DatabaseSync(path);
  db.exec(
    "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
  );
  for (const migration of SQLITE_MIGRATIONS.filter((m) => m.version <= 10)) {
    db.exec(migration.sql);
    db.prepare("INSERT INTO schema_migrations VALUES (?, 0)").run(
      migration.version,
    );
  }
  // Two runs whose records were written interleaved.
  const logs = [fakeLog("a", 3), fakeLog("b", 2)];
  for (const log of logs) {
    const last = log[log.length - 1]!;
    db.prepare(
      "INSERT INTO runs (run_id, tenant, status, created_at, updated_at, last_seq, digest) VALUES (?, 't', 'running', ?, ?, ?, ?)",
    ).run(last.run_id, log[0]!.at, last.at, last.seq, last.hash);
  }
  for (let seq = 0; seq < 4; seq++) {
    for (const log of logs) {
      const record = log[seq];
      if (record === undefined) continue;
      db.prepare("INSERT INTO records VALUES (?, ?, ?, ?)").run(
        record.run_id,
        record.seq,
        record.type,
        recordToLine(record),
      );
    }
  }
  db.close();
  const store = SqliteStore.open(path);
  try {
    assert.deepEqual(await store.readLog("a"), logs[0]);
    assert.deepEqual(await store.readLog("b"), logs[1]);
    assert.deepEqual(
      await store.readLog("a", { fromSeq: 2 }),
      logs[0]!.slice(2),
    );
    const more = fakeLog("a", 5).slice(4);
    await store.append(more);
    assert.deepEqual(await store.readLog("a"), [...logs[0]!, ...more]);
  } finally {
    await store.close();
  }
  // A record is stored once per (run, sequence) whoever writes the file.
  const raw = new DatabaseSync(path);
  try {
    const first = logs[1]![0]!;
    assert.throws(
      () =>
        raw.prepare(
          "INSERT INTO records (run_id, seq, line) VALUES (?, ?, ?)",
        ).run(
          first.run_id,
          first.seq,
          recordToLine(first),
        ),
      /UNIQUE constraint failed/,
    );
  } finally {
    raw.close();
  }
});

Deno.test("SqliteStore resolves every write only after a WAL sync that began after it", async () => {
  const path = join(Deno.makeTempDirSync({ prefix: "aos-sqlite-" }), "aos.db");
  // Each sync waits until the test lets it run.
  const held: (() => void)[] = [];
  const store = SqliteStore.open(path, {
    syncWal: (sync) =>
      new Promise<void>((resolve, reject) => {
        held.push(() => sync().then(resolve, reject));
      }),
  });
  const releaseAll = () => held.splice(0).forEach((sync) => sync());
  const turns = async (count: number) => {
    for (let index = 0; index < count; index++) {
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  };
  const log = fakeLog("r1", 1);
  const writes: [string, () => Promise<unknown>][] = [
    ["createRun", () => store.createRun(log[0]!, { tenant: "t" })],
    ["append", () => store.append(log.slice(1))],
    ["putModule", () => store.putModule("m1", new Uint8Array([1]))],
    ["putSkill", () =>
      store.putSkill({
        name: "s",
        version: "1.0.0",
        sha256: "m1",
        manifest: {},
        installed_at: 1,
      })],
    [
      "createTenant",
      () =>
        store.createTenant({ id: "t", created_at: 1, daily_budget_cents: 5 }),
    ],
    ["seedApiKeys", () => store.seedApiKeys([], [apiKey("k1")])],
    ["putApiKey", () => store.putApiKey(apiKey("k2"))],
    ["revokeApiKey", () => store.revokeApiKey("k1", 2)],
  ];
  try {
    for (const [name, write] of writes) {
      let done = false;
      const earlier = held.splice(0);
      const written = write().then(() => done = true);
      await turns(3);
      assert.equal(done, false, `${name} resolved before any sync`);
      // A sync asked for before the write began may not cover it.
      earlier.forEach((sync) => sync());
      await turns(3);
      assert.equal(done, false, `${name} resolved on an earlier sync`);
      while (!done) {
        releaseAll();
        await turns(1);
      }
      await written;
    }
  } finally {
    let closed = false;
    const closing = store.close().finally(() => closed = true);
    while (!closed) {
      releaseAll();
      await turns(1);
    }
    await closing;
  }
  const reopened = SqliteStore.open(path);
  try {
    assert.deepEqual(await reopened.readLog("r1"), log);
    assert.equal((await reopened.findApiKey("sha-k2"))?.key_id, "k2");
    assert.equal(await reopened.findApiKey("sha-k1"), undefined);
  } finally {
    await reopened.close();
  }
});

function apiKey(keyId: string): ApiKeyRecord {
  return {
    key_id: keyId,
    role: "tenant",
    tenant: "t",
    sha256: `sha-${keyId}`,
    created_at: 1,
    revoked_at: null,
  };
}

Deno.test("SqliteStore checkpoints its WAL on another thread, so the WAL starts over instead of growing", async () => {
  const path = join(Deno.makeTempDirSync({ prefix: "aos-sqlite-" }), "aos.db");
  const store = SqliteStore.open(path);
  const body = "x".repeat(2000);
  const runs = 600;
  try {
    for (let run = 0; run < runs; run++) {
      const first = sealRecord(emptyHead(`r${run}`), {
        type: "RunSubmitted",
        body: { body },
        at: run,
      });
      await store.createRun(first, { tenant: "t" });
    }
    // Each commit writes a dozen pages or so, over 30 MB for the 600:
    // without checkpoints (the connection makes none itself) the WAL would
    // hold them all; a round of 64 commits fits in a few MB.
    const walBytes = Deno.statSync(`${path}-wal`).size;
    assert.ok(walBytes < 8 * 2 ** 20, `the WAL grew to ${walBytes} bytes`);
  } finally {
    await store.close();
  }
  const reopened = SqliteStore.open(path);
  try {
    assert.equal((await reopened.listUnfinishedRuns()).length, runs);
  } finally {
    await reopened.close();
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
