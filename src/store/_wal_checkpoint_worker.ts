// The WAL checkpointer's thread (`_wal_checkpointer.ts`): a connection of
// its own to the database, on which each request runs a PASSIVE checkpoint
// (copy the WAL's frames into the database file, syncing the WAL before and
// the database after) while the main thread goes on serving.
import { DatabaseSync } from "node:sqlite";
import { parentPort, workerData } from "node:worker_threads";

/** The worker's start-up data. */
export interface CheckpointWorkerInit {
  path: string;
  busyTimeoutMs: number;
}

/** The answer to one request. */
export type CheckpointAnswer =
  | { ok: true; busy: number; log: number; checkpointed: number }
  | { ok: false; error: string };

const init = workerData as CheckpointWorkerInit;
const port = parentPort!;
const db = new DatabaseSync(init.path);
db.exec(`PRAGMA busy_timeout = ${Math.trunc(init.busyTimeoutMs)}`);
// A checkpoint syncs the WAL before it copies and the database after.
db.exec("PRAGMA synchronous = FULL");
// A checkpoint copies frames from the WAL file, not through the page cache.
db.exec("PRAGMA cache_size = -256");
const checkpoint = db.prepare("PRAGMA wal_checkpoint(PASSIVE)");
const userVersion = db.prepare("PRAGMA user_version");

// The first write after a complete checkpoint starts the WAL over, and
// syncs its new header before writing on (SQLite does so, so that no frame
// of the new round can reach the disk before the header that makes it
// valid). Done here, with a write that changes nothing (the user version,
// set to itself), that sync too stays off the main thread.
function restartWal(): void {
  db.exec("BEGIN IMMEDIATE");
  try {
    const row = userVersion.get() as Record<string, unknown>;
    db.exec(`PRAGMA user_version = ${Math.trunc(Number(row.user_version))}`);
    db.exec("COMMIT");
  } catch (error) {
    db.exec("ROLLBACK");
    throw error;
  }
}

port.on("message", (message: "checkpoint" | "close") => {
  if (message === "close") {
    // The main thread terminates this thread once its connection is closed.
    db.close();
    port.postMessage({ ok: true, busy: 0, log: 0, checkpointed: 0 });
    return;
  }
  let answer: CheckpointAnswer;
  try {
    const row = checkpoint.get() as Record<string, unknown>;
    if (
      Number(row.busy) === 0 && Number(row.log) > 0 &&
      Number(row.checkpointed) === Number(row.log)
    ) {
      try {
        restartWal();
      } catch {
        // Busy (another process writing, say): the main connection's next
        // commit starts the WAL over instead, as it would without this.
      }
    }
    answer = {
      ok: true,
      busy: Number(row.busy),
      log: Number(row.log),
      checkpointed: Number(row.checkpointed),
    };
  } catch (error) {
    answer = { ok: false, error: String(error) };
  }
  port.postMessage(answer);
});
