import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { setImmediate } from "node:timers";
import { AosError } from "../errors/mod.ts";
import { type DeferredRows, GroupCommit } from "./_group_commit.ts";

function database(): DatabaseSync {
  const db = new DatabaseSync(":memory:");
  db.exec("CREATE TABLE t (k TEXT PRIMARY KEY)");
  return db;
}

function keys(db: DatabaseSync): string[] {
  return db.prepare("SELECT k FROM t ORDER BY k").all().map((row) =>
    String(row.k)
  );
}

/** Lets the event loop run the group's flush (queued before this) and its microtasks. */
function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A sync the test finishes by hand, counting how often it was asked for. */
function manualSync() {
  const pending: (() => void)[] = [];
  return {
    calls: () => pending.length,
    sync: () => new Promise<void>((resolve) => pending.push(resolve)),
    finish: (index: number) => pending[index]!(),
  };
}

Deno.test("GroupCommit resolves writes only after the sync that follows their commit", async () => {
  const db = database();
  const disk = manualSync();
  const group = new GroupCommit(db, { sync: disk.sync });
  const insert = db.prepare("INSERT INTO t (k) VALUES (?)");
  const settled: string[] = [];
  const writes = ["a", "b", "c"].map((key) =>
    group.submit(() => insert.run(key)).then(() => settled.push(key))
  );
  await turn();
  assert.deepEqual(keys(db), ["a", "b", "c"], "committed in one group");
  assert.equal(disk.calls(), 1, "one sync for the whole group");
  assert.deepEqual(settled, [], "nothing resolves before the sync");
  const later = group.submit(() => insert.run("d"));
  await turn();
  assert.equal(disk.calls(), 1, "the next group waits for the sync in flight");
  disk.finish(0);
  await Promise.all(writes);
  assert.deepEqual(settled, ["a", "b", "c"]);
  await turn();
  assert.equal(disk.calls(), 2, "then the next group syncs");
  disk.finish(1);
  await later;
  db.close();
});

Deno.test("GroupCommit resolves a durable: false write at commit, and the next durable write's sync covers it", async () => {
  const db = database();
  const disk = manualSync();
  const group = new GroupCommit(db, { sync: disk.sync });
  const insert = db.prepare("INSERT INTO t (k) VALUES (?)");
  let durableDone = false;
  const durable = group.submit(() => insert.run("a")).then(() =>
    durableDone = true
  );
  const reserved = await group.submit(() => {
    insert.run("b");
    return "granted";
  }, { durable: false });
  assert.equal(reserved, "granted", "answers with the work's result");
  assert.deepEqual(keys(db), ["a", "b"], "committed with its group");
  assert.equal(disk.calls(), 1, "its group's sync is still running");
  assert.equal(durableDone, false, "a durable write of the same group waits");
  // What acts on the answer is a durable write, committed after it: it
  // resolves only after a sync that starts after its commit.
  let followDone = false;
  const follow = group.submit(() => insert.run("c")).then(() =>
    followDone = true
  );
  await turn();
  disk.finish(0);
  await durable;
  await turn();
  assert.equal(followDone, false, "the first sync may predate its commit");
  assert.equal(disk.calls(), 2);
  disk.finish(1);
  await follow;
  db.close();
});

Deno.test("GroupCommit rolls back a failing write alone and commits the rest", async () => {
  const db = database();
  const group = new GroupCommit(db);
  const insert = db.prepare("INSERT INTO t (k) VALUES (?)");
  const outcomes = await Promise.allSettled([
    group.submit(() => insert.run("a")),
    group.submit(() => {
      insert.run("b");
      throw new Error("refused after writing");
    }),
    group.submit(() => insert.run("c")),
  ]);
  assert.deepEqual(outcomes.map((outcome) => outcome.status), [
    "fulfilled",
    "rejected",
    "fulfilled",
  ]);
  assert.deepEqual(keys(db), ["a", "c"]);
  db.close();
});

Deno.test("GroupCommit runs a write without a savepoint, and a group again with savepoints when one throws after writing", async () => {
  const db = database();
  const group = new GroupCommit(db);
  const insert = db.prepare("INSERT INTO t (k) VALUES (?)");
  const plain = await Promise.all([
    group.submit(() => insert.run("a"), { savepoint: false }),
    group.submit(() => insert.run("b"), { savepoint: false }),
  ]);
  assert.equal(plain.length, 2);
  assert.deepEqual(keys(db), ["a", "b"]);
  let runs = 0;
  const outcomes = await Promise.allSettled([
    group.submit(() => insert.run("c"), { savepoint: false }),
    group.submit(() => {
      runs++;
      insert.run("d");
      throw new Error("failed half-way");
    }, { savepoint: false }),
    group.submit(() => insert.run("e")),
  ]);
  assert.deepEqual(outcomes.map((outcome) => outcome.status), [
    "fulfilled",
    "rejected",
    "fulfilled",
  ]);
  assert.equal(
    runs,
    2,
    "the group ran again, the failing write in a savepoint",
  );
  assert.deepEqual(keys(db), ["a", "b", "c", "e"], "nothing of d was kept");
  assert.equal(db.isTransaction, false);
  db.close();
});

/** Keys of table t that writes defer to one INSERT at the end of the group. */
class DeferredKeys implements DeferredRows {
  readonly #db: DatabaseSync;
  #deferring = false;
  #keys: string[] = [];
  /** INSERT statements run, and the groups that deferred. */
  inserts = 0;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  add(key: string): void {
    if (this.#deferring) this.#keys.push(key);
    else this.#insert([key]);
  }

  begin(deferring: boolean): void {
    this.#deferring = deferring;
    this.#keys = [];
  }

  mark(): number {
    return this.#keys.length;
  }

  truncate(mark: number): void {
    this.#keys.length = mark;
  }

  flush(): void {
    const keys = this.#keys;
    this.#deferring = false;
    this.#keys = [];
    if (keys.length > 0) this.#insert(keys);
  }

  #insert(keys: string[]): void {
    this.inserts++;
    this.#db.prepare(
      `INSERT INTO t (k) VALUES ${keys.map(() => "(?)").join(", ")}`,
    ).run(...keys);
  }
}

Deno.test("GroupCommit inserts the rows its writes deferred in one statement before it commits, less those of a write rolled back", async () => {
  const db = database();
  const rows = new DeferredKeys(db);
  const group = new GroupCommit(db, { deferred: rows });
  const outcomes = await Promise.allSettled([
    group.submit(() => rows.add("a"), { savepoint: false }),
    group.submit(() => {
      rows.add("b");
      throw new Error("refused after deferring a row");
    }),
    group.submit(() => {
      rows.add("c");
      rows.add("d");
    }),
  ]);
  assert.deepEqual(outcomes.map((outcome) => outcome.status), [
    "fulfilled",
    "rejected",
    "fulfilled",
  ]);
  assert.deepEqual(keys(db), ["a", "c", "d"]);
  assert.equal(rows.inserts, 1, "one statement for the whole group");
  db.close();
});

Deno.test("GroupCommit runs a group again, rows inserted at once, when its deferred rows are refused, so only the write they came from fails", async () => {
  const db = database();
  db.exec("INSERT INTO t (k) VALUES ('taken')");
  const rows = new DeferredKeys(db);
  const group = new GroupCommit(db, { deferred: rows });
  const outcomes = await Promise.allSettled([
    group.submit(() => rows.add("a"), { savepoint: false }),
    group.submit(() => rows.add("taken"), { savepoint: false }),
    group.submit(() => rows.add("b"), { savepoint: false }),
  ]);
  assert.deepEqual(outcomes.map((outcome) => outcome.status), [
    "fulfilled",
    "rejected",
    "fulfilled",
  ]);
  assert.match(
    String((outcomes[1] as PromiseRejectedResult).reason),
    /UNIQUE constraint failed/,
  );
  assert.deepEqual(keys(db), ["a", "b", "taken"]);
  assert.equal(db.isTransaction, false);
  // The next group defers again.
  const before = rows.inserts;
  await Promise.all([
    group.submit(() => rows.add("c"), { savepoint: false }),
    group.submit(() => rows.add("d"), { savepoint: false }),
  ]);
  assert.equal(rows.inserts - before, 1);
  assert.deepEqual(keys(db), ["a", "b", "c", "d", "taken"]);
  db.close();
});

Deno.test("GroupCommit commits nothing while a checkpoint runs, then commits what waited in one group", async () => {
  const db = database();
  let finishCheckpoint!: () => void;
  let checkpoints = 0;
  const group = new GroupCommit(db, {
    checkpointEveryCommits: 2,
    checkpoint: () => {
      checkpoints++;
      return new Promise<void>((resolve) => finishCheckpoint = resolve);
    },
  });
  const insert = db.prepare("INSERT INTO t (k) VALUES (?)");
  await group.submit(() => insert.run("a"));
  assert.equal(checkpoints, 0);
  await group.submit(() => insert.run("b"));
  assert.equal(checkpoints, 1, "asked for after the second commit");
  let done = 0;
  const waiting = ["c", "d"].map((key) =>
    group.submit(() => insert.run(key)).then(() => done++)
  );
  await turn();
  await turn();
  assert.deepEqual(keys(db), ["a", "b"], "nothing commits meanwhile");
  assert.equal(done, 0);
  finishCheckpoint();
  await Promise.all(waiting);
  assert.deepEqual(keys(db), ["a", "b", "c", "d"]);
  assert.equal(checkpoints, 1, "c and d were one commit");
  await group.submit(() => insert.run("e"));
  assert.equal(checkpoints, 2);
  finishCheckpoint();
  await group.drain();
  db.close();
});

Deno.test("GroupCommit asks the checkpointer to prepare over the second half of the way to each checkpoint", async () => {
  const db = database();
  const events: string[] = [];
  const group = new GroupCommit(db, {
    checkpointEveryCommits: 4,
    checkpoint: () => {
      events.push("checkpoint");
      return Promise.resolve();
    },
    prepareCheckpoint: () => events.push("prepare"),
  });
  const insert = db.prepare("INSERT INTO t (k) VALUES (?)");
  for (const key of ["a", "b", "c", "d", "e", "f"]) {
    await group.submit(() => insert.run(key));
    events.push(key);
  }
  await group.drain();
  assert.deepEqual(events, [
    "a",
    "prepare",
    "b",
    "prepare",
    "c",
    "prepare",
    "checkpoint",
    "d",
    "e",
    "prepare",
    "f",
  ]);
  db.close();
});

Deno.test("GroupCommit goes on committing after a checkpoint that failed", async () => {
  const db = database();
  let checkpoints = 0;
  const group = new GroupCommit(db, {
    checkpointEveryCommits: 1,
    checkpoint: () => {
      checkpoints++;
      return Promise.reject(new Error("the checkpoint thread died"));
    },
  });
  const insert = db.prepare("INSERT INTO t (k) VALUES (?)");
  for (const key of ["a", "b", "c"]) await group.submit(() => insert.run(key));
  assert.deepEqual(keys(db), ["a", "b", "c"]);
  assert.equal(checkpoints, 3);
  await group.drain();
  db.close();
});

Deno.test("GroupCommit rejects every write of a group whose sync fails", async () => {
  const db = database();
  const group = new GroupCommit(db, {
    sync: () => Promise.reject(new Error("EIO")),
  });
  const insert = db.prepare("INSERT INTO t (k) VALUES (?)");
  const outcomes = await Promise.allSettled([
    group.submit(() => insert.run("a")),
    group.submit(() => insert.run("b")),
  ]);
  for (const outcome of outcomes) {
    assert.equal(outcome.status, "rejected");
    const reason = (outcome as PromiseRejectedResult).reason;
    assert.ok(reason instanceof AosError);
    assert.equal(reason.code, "STORE_UNAVAILABLE");
  }
  db.close();
});

Deno.test("GroupCommit.drain() waits for writes still syncing", async () => {
  const db = database();
  const disk = manualSync();
  const group = new GroupCommit(db, { sync: disk.sync });
  const insert = db.prepare("INSERT INTO t (k) VALUES (?)");
  let written = false;
  const write = group.submit(() => insert.run("a")).then(() => written = true);
  let drained = false;
  const drain = group.drain().then(() => drained = true);
  await turn();
  assert.equal(drained, false);
  disk.finish(0);
  await write;
  assert.equal(written, true);
  await drain;
  assert.equal(disk.calls(), 1, "the sync in flight covered the drain");
  db.close();
});

Deno.test("GroupCommit.drain() is the barrier for writes answered at commit", async () => {
  const db = database();
  const disk = manualSync();
  const group = new GroupCommit(db, { sync: disk.sync });
  const insert = db.prepare("INSERT INTO t (k) VALUES (?)");
  await group.drain();
  assert.equal(disk.calls(), 0, "nothing committed: no sync");
  await group.submit(() => insert.run("a"), { durable: false });
  await group.submit(() => insert.run("b"), { durable: false });
  assert.equal(disk.calls(), 0, "answered at commit, without a sync");
  assert.deepEqual(group.watermark(), { committed: 2, durable: 0, syncs: 0 });
  let drained = false;
  const drain = group.drain().then(() => drained = true);
  await turn();
  assert.equal(disk.calls(), 1, "the barrier starts one sync");
  assert.equal(drained, false, "and waits for it");
  // A write committed while that sync runs is not covered by it.
  await group.submit(() => insert.run("c"), { durable: false });
  const second = group.drain();
  disk.finish(0);
  await drain;
  assert.deepEqual(group.watermark(), { committed: 3, durable: 2, syncs: 2 });
  disk.finish(1);
  await second;
  assert.deepEqual(group.watermark(), { committed: 3, durable: 3, syncs: 2 });
  await group.drain();
  assert.equal(disk.calls(), 2, "nothing new: the barrier costs nothing");
  db.close();
});

Deno.test("GroupCommit fails every later barrier and durable write once a sync failed", async () => {
  const db = database();
  let fail = true;
  const group = new GroupCommit(db, {
    sync: () => fail ? Promise.reject(new Error("EIO")) : Promise.resolve(),
  });
  const insert = db.prepare("INSERT INTO t (k) VALUES (?)");
  await group.submit(() => insert.run("a"), { durable: false });
  await assert.rejects(
    group.drain(),
    (error: unknown) =>
      error instanceof AosError && error.code === "STORE_UNAVAILABLE",
  );
  // The pages the failed sync could not write may be gone: a sync that
  // succeeds now proves nothing about them.
  fail = false;
  await assert.rejects(group.drain());
  await assert.rejects(group.submit(() => insert.run("b")));
  db.close();
});

Deno.test("GroupCommit rejects writes queued when the connection closed", async () => {
  const db = database();
  const group = new GroupCommit(db);
  const write = group.submit(() => {});
  db.close();
  await assert.rejects(write);
});
