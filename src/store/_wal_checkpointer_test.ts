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

/**
 * A WAL database in a fresh folder and a checkpointer of it (its thread
 * ended after `idleMs` left idle, when given) for `body`; `idleEnds(n)`
 * resolves once the thread has ended `n` times. Everything is closed and
 * removed after.
 */
async function withCheckpointer(
  options: { idleMs?: number },
  body: (fixture: {
    dir: string;
    db: DatabaseSync;
    checkpointer: WalCheckpointer;
    idleEnds: (count: number) => Promise<void>;
  }) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  const db = walDatabase(dir);
  let ended = 0;
  const waiting: { count: number; resolve: () => void }[] = [];
  const checkpointer = new WalCheckpointer(join(dir, "x.db"), {
    busyTimeoutMs: 5_000,
    ...options,
    onIdleEnd: () => {
      ended++;
      for (const waiter of waiting) if (waiter.count <= ended) waiter.resolve();
    },
  });
  const idleEnds = (count: number) =>
    new Promise<void>((resolve) =>
      ended >= count ? resolve() : waiting.push({ count, resolve })
    );
  try {
    await body({ dir, db, checkpointer, idleEnds });
  } finally {
    await checkpointer.close();
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("WalCheckpointer copies the whole WAL into the database on its thread", async () => {
  await withCheckpointer({}, async ({ db, checkpointer }) => {
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
  });
});

Deno.test("WalCheckpointer ends an idle thread, closing its connection, and starts another at the next checkpoint", async () => {
  await withCheckpointer(
    { idleMs: 1 },
    async ({ dir, db, checkpointer, idleEnds }) => {
      const filesAfter: number[] = [];
      for (let round = 0; round < 4; round++) {
        write(db, 10);
        const answer = await checkpointer.checkpoint();
        assert.ok(answer.ok && answer.log > 0);
        assert.equal(answer.checkpointed, answer.log);
        await idleEnds(round + 1);
        assert.equal(checkpointer.started, false);
        filesAfter.push(openDatabaseFiles(dir));
      }
      // Each ended thread closed its connection: its files do not pile up
      // (SQLite may keep one descriptor of a closed connection for reuse
      // while another connection of the process holds locks on the file).
      assert.equal(filesAfter.at(-1), filesAfter[0]);
    },
  );
});

Deno.test("WalCheckpointer.prepare starts the thread before a checkpoint, and a prepared thread ends once left idle", async () => {
  await withCheckpointer(
    { idleMs: 1 },
    async ({ db, checkpointer, idleEnds }) => {
      checkpointer.prepare();
      assert.equal(checkpointer.started, true);
      await idleEnds(1);
      assert.equal(checkpointer.started, false);
      write(db, 10);
      const answer = await checkpointer.checkpoint();
      assert.ok(answer.ok && answer.log > 0);
      assert.equal(answer.checkpointed, answer.log);
    },
  );
});

Deno.test("WalCheckpointer refuses checkpoints once closed", async () => {
  await withCheckpointer({}, async ({ db, checkpointer }) => {
    write(db, 5);
    await checkpointer.checkpoint();
    await checkpointer.close();
    assert.equal(checkpointer.started, false);
    await assert.rejects(checkpointer.checkpoint(), /closed/);
  });
});
