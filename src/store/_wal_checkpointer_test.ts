import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { WalCheckpointer } from "./_wal_checkpointer.ts";

function walDatabase(dir: string): DatabaseSync {
  const db = new DatabaseSync(join(dir, "x.db"));
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA wal_autocheckpoint = 0");
  db.exec("CREATE TABLE t (x BLOB)");
  return db;
}

/** This process's open files that are the database's (file, WAL, shm). */
function openDatabaseFiles(dir: string): number {
  let count = 0;
  for (const entry of Deno.readDirSync("/proc/self/fd")) {
    try {
      if (Deno.readLinkSync(`/proc/self/fd/${entry.name}`).startsWith(dir)) {
        count++;
      }
    } catch {
      // closed meanwhile
    }
  }
  return count;
}

function write(db: DatabaseSync, rows: number): void {
  const insert = db.prepare("INSERT INTO t VALUES (randomblob(1000))");
  for (let row = 0; row < rows; row++) insert.run();
}

Deno.test("WalCheckpointer copies the whole WAL into the database on its thread", async () => {
  const dir = await Deno.makeTempDir();
  const db = walDatabase(dir);
  const checkpointer = new WalCheckpointer(join(dir, "x.db"), {
    busyTimeoutMs: 5_000,
  });
  try {
    write(db, 50);
    assert.equal(checkpointer.started, false);
    const answer = await checkpointer.checkpoint();
    assert.equal(checkpointer.started, true);
    assert.ok(answer.ok);
    assert.equal(answer.busy, 0);
    assert.ok(answer.log > 0);
    assert.equal(answer.checkpointed, answer.log);
    // The thread started the WAL over: the next write begins at its start.
    write(db, 1);
    const again = await checkpointer.checkpoint();
    assert.ok(again.ok && again.log < answer.log);
  } finally {
    await checkpointer.close();
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("WalCheckpointer ends an idle thread, closing its connection, and starts another at the next checkpoint", async () => {
  const dir = await Deno.makeTempDir();
  const db = walDatabase(dir);
  let ended!: () => void;
  let idleEnd = new Promise<void>((resolve) => ended = resolve);
  const checkpointer = new WalCheckpointer(join(dir, "x.db"), {
    busyTimeoutMs: 5_000,
    idleMs: 1,
    onIdleEnd: () => ended(),
  });
  try {
    const filesAfter: number[] = [];
    for (let round = 0; round < 4; round++) {
      write(db, 10);
      const answer = await checkpointer.checkpoint();
      assert.ok(answer.ok && answer.log > 0);
      assert.equal(answer.checkpointed, answer.log);
      await idleEnd;
      assert.equal(checkpointer.started, false);
      filesAfter.push(openDatabaseFiles(dir));
      idleEnd = new Promise<void>((resolve) => ended = resolve);
    }
    // Each ended thread closed its connection: its files do not pile up
    // (SQLite may keep one descriptor of a closed connection for reuse
    // while another connection of the process holds locks on the file).
    assert.equal(filesAfter.at(-1), filesAfter[0]);
  } finally {
    await checkpointer.close();
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("WalCheckpointer.prepare starts the thread before a checkpoint, and a prepared thread ends once left idle", async () => {
  const dir = await Deno.makeTempDir();
  const db = walDatabase(dir);
  let ended!: () => void;
  const idleEnd = new Promise<void>((resolve) => ended = resolve);
  const checkpointer = new WalCheckpointer(join(dir, "x.db"), {
    busyTimeoutMs: 5_000,
    idleMs: 1,
    onIdleEnd: () => ended(),
  });
  try {
    checkpointer.prepare();
    assert.equal(checkpointer.started, true);
    await idleEnd;
    assert.equal(checkpointer.started, false);
    write(db, 10);
    const answer = await checkpointer.checkpoint();
    assert.ok(answer.ok && answer.log > 0);
    assert.equal(answer.checkpointed, answer.log);
  } finally {
    await checkpointer.close();
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("WalCheckpointer refuses checkpoints once closed", async () => {
  const dir = await Deno.makeTempDir();
  const db = walDatabase(dir);
  const checkpointer = new WalCheckpointer(join(dir, "x.db"), {
    busyTimeoutMs: 5_000,
  });
  write(db, 5);
  await checkpointer.checkpoint();
  await checkpointer.close();
  assert.equal(checkpointer.started, false);
  await assert.rejects(checkpointer.checkpoint(), /closed/);
  db.close();
  await Deno.remove(dir, { recursive: true });
});
