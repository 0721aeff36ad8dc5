import { AosError } from "../src/errors/mod.ts";
import {
  emptyHead,
  headAfter,
  type LogHead,
  type LogRecord,
  recordLineBytes,
  type RunSnapshot,
} from "../src/store/mod.ts";
import type { RunLogStore } from "./run_store.ts";
import { messageOf } from "./run_messages.ts";
import { reduce, type RunState } from "./run_reducer.ts";

/**
 * Format of the state a snapshot holds. Bumped whenever `RunState` changes
 * shape, so a snapshot written by an older build is ignored (the log is
 * folded whole) rather than read into the wrong shape.
 */
export const SNAPSHOT_VERSION = 3;

/** What a run actor starts from. */
export interface RecoveredRun {
  state: RunState;
  head: LogHead;
  /** Bytes of the whole log. */
  bytes: number;
  /** Seq of the snapshot it started from, or -1. */
  snapshotSeq: number;
  /** Records folded on top of the snapshot (all of them without one). */
  folded: number;
}

/** The snapshot of `state`, whose last record is `head`'s. */
export function snapshotOf(
  state: RunState,
  head: LogHead,
  logBytes: number,
): RunSnapshot {
  return {
    run_id: state.run_id,
    seq: head.next_seq - 1,
    hash: head.last_hash,
    log_bytes: logBytes,
    version: SNAPSHOT_VERSION,
    state: JSON.parse(JSON.stringify(state)),
  };
}

/**
 * Folds a run's log into its state. With `created` (the records of a run
 * this process just created and holds, so nothing follows them yet) the
 * store is not read. With a usable snapshot only the records after it are
 * read; a snapshot that does not join the log (another version,
 * or a hash that is not the record's before the rest) is ignored.
 */
export async function recoverRun(
  runId: string,
  deps: {
    store: Pick<RunLogStore, "readLog" | "append" | "getSnapshot">;
    created?: readonly LogRecord[];
  },
): Promise<RecoveredRun> {
  const { store, created } = deps;
  if (created !== undefined) {
    // A run this process just created and holds: its log is these records.
    return foldOnto(undefined, emptyHead(runId), 0, -1, created);
  }
  const snapshot = await store.getSnapshot?.(runId);
  if (snapshot !== undefined && snapshot.version === SNAPSHOT_VERSION) {
    // Read from the snapshot's own record: its hash must be the snapshot's.
    const from = await store.readLog(runId, { fromSeq: snapshot.seq });
    const rest = from.slice(1);
    const joins = from[0]?.seq === snapshot.seq &&
      from[0]?.hash === snapshot.hash;
    if (joins) {
      return foldOnto(
        snapshot.state as unknown as RunState,
        { run_id: runId, next_seq: snapshot.seq + 1, last_hash: snapshot.hash },
        snapshot.log_bytes,
        snapshot.seq,
        rest,
      );
    }
  }
  const records = await store.readLog(runId);
  const recovered = foldOnto(undefined, emptyHead(runId), 0, -1, records);
  const fork = recovered.state.fork;
  if (fork !== null && records.length < fork.from_seq) {
    // The fork was stopped between storing its first record and the rest
    // of the copied prefix: running it would repeat the prefix's effects.
    throw new AosError(
      "RUN_FORK_INVALID",
      `run ${runId} holds ${records.length} of the ${fork.from_seq} records it forked from ${fork.run_id}`,
      {
        details: { run_id: runId, parent: fork.run_id, pointer: "/from_step" },
      },
    );
  }
  return recovered;
}

function foldOnto(
  start: RunState | undefined,
  startHead: LogHead,
  startBytes: number,
  snapshotSeq: number,
  records: readonly LogRecord[],
): RecoveredRun {
  let state = start;
  let head = startHead;
  let bytes = startBytes;
  for (const record of records) {
    state = reduce(state, messageOf(record)).state;
    head = headAfter(record);
    bytes += recordBytes(record);
  }
  if (state === undefined) throw new Error(`run ${head.run_id} has no log`);
  return { state, head, bytes, snapshotSeq, folded: records.length };
}

/** Bytes a record takes in the log: its canonical line. */
export function recordBytes(record: LogRecord): number {
  return recordLineBytes(record);
}
