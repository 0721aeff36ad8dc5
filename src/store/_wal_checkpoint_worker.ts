// The WAL checkpointer's thread (`_wal_checkpointer.ts`): a connection of
// its own to the database, on which each request runs a PASSIVE checkpoint
// (copy the WAL's frames into the database file, syncing the WAL before and
// the database after) while the main thread goes on serving. A web worker
// rather than a `node:worker_threads` one: it needs nothing of Node but
// `node:sqlite`, and Node's runtime in a worker costs about 4 MB.
import { DatabaseSync, type StatementSync } from "node:sqlite";

/** The worker's start-up data, its first message. */
export interface CheckpointWorkerInit {
  path: string;
  busyTimeoutMs: number;
}

/** A request after the first. */
export type CheckpointRequest = "checkpoint" | "close";

/** The answer to one request. */
export type CheckpointAnswer =
  | { ok: true; busy: number; log: number; checkpointed: number }
  | { ok: false; error: string };

interface Connection {
  db: DatabaseSync;
  checkpoint: StatementSync;
  userVersion: StatementSync;
}

interface WorkerScope {
  onmessage:
    | ((event: MessageEvent<CheckpointWorkerInit | CheckpointRequest>) => void)
    | null;
  postMessage(answer: CheckpointAnswer): void;
}

const scope = globalThis as unknown as WorkerScope;
let init: CheckpointWorkerInit | undefined;
let connection: Connection | undefined;

function open(init: CheckpointWorkerInit): Connection {
  const db = new DatabaseSync(init.path);
  db.exec(`PRAGMA busy_timeout = ${Math.trunc(init.busyTimeoutMs)}`);
  // A checkpoint syncs the WAL before it copies and the database after.
  db.exec("PRAGMA synchronous = FULL");
  // A checkpoint copies frames from the WAL file, not through the page cache.
  db.exec("PRAGMA cache_size = -256");
  return {
    db,
    checkpoint: db.prepare("PRAGMA wal_checkpoint(PASSIVE)"),
    userVersion: db.prepare("PRAGMA user_version"),
  };
}

// The first write after a complete checkpoint starts the WAL over, and
// syncs its new header before writing on (SQLite does so, so that no frame
// of the new round can reach the disk before the header that makes it
// valid). Done here, with a write that changes nothing (the user version,
// set to itself), that sync too stays off the main thread.
function restartWal({ db, userVersion }: Connection): void {
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

function checkpoint(connection: Connection): CheckpointAnswer {
  const row = connection.checkpoint.get() as Record<string, unknown>;
  if (
    Number(row.busy) === 0 && Number(row.log) > 0 &&
    Number(row.checkpointed) === Number(row.log)
  ) {
    try {
      restartWal(connection);
    } catch {
      // Busy (another process writing, say): the main connection's next
      // commit starts the WAL over instead, as it would without this.
    }
  }
  return {
    ok: true,
    busy: Number(row.busy),
    log: Number(row.log),
    checkpointed: Number(row.checkpointed),
  };
}

scope.onmessage = ({ data }) => {
  if (typeof data === "object") {
    init = data;
    return;
  }
  if (data === "close") {
    // The main thread terminates this thread once its connection is closed.
    connection?.db.close();
    scope.postMessage({ ok: true, busy: 0, log: 0, checkpointed: 0 });
    return;
  }
  let answer: CheckpointAnswer;
  try {
    connection ??= open(init!);
    answer = checkpoint(connection);
  } catch (error) {
    answer = { ok: false, error: String(error) };
  }
  scope.postMessage(answer);
};
