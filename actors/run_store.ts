import type { Clock, Logger } from "../src/deps/mod.ts";
import { AosError } from "../src/errors/mod.ts";
import type { AppendOptions, LogRecord, Store } from "../src/store/mod.ts";

/** What a run actor reads and writes: its own log, and its state snapshots when the store keeps them. */
export type RunLogStore = Pick<
  Store,
  | "readLog"
  | "append"
  | "putSnapshot"
  | "getSnapshot"
  | "syncBarrier"
  | "whenDurable"
  | "durability"
  | "waitingSignals"
>;

/** Options of `fencedRunStore`. */
export interface FencedRunStoreOptions {
  /** The lease epoch every append is fenced with. */
  epoch: number;
  /** Paces retries while the store is unavailable (the node's live clock). */
  clock: Clock;
  log: Logger;
  /** Told when the store refused an append because the lease was taken over. */
  onLeaseLost: () => void;
  /** True once the node is closing: retries stop and the error surfaces. */
  closing: () => boolean;
}

const RETRY_BASE_MS = 50;
const RETRY_MAX_MS = 1_000;

function codeOf(error: unknown): string | undefined {
  return error instanceof AosError ? error.code : undefined;
}

/**
 * A run's view of the store while this node holds its lease: every append
 * carries the lease epoch, so the store refuses it (STORE_LEASE_LOST) once
 * another node has taken the run over. While the store is unavailable (a
 * restarting PostgreSQL) reads and appends wait and retry instead of
 * crashing the actor. An append whose commit went unacknowledged is
 * resolved by reading the log back: when the records are there, it landed.
 * Waiting costs nothing in safety: a lease that expires meanwhile and is
 * claimed elsewhere turns the retried append into STORE_LEASE_LOST.
 */
export function fencedRunStore(
  store: Store,
  options: FencedRunStoreOptions,
): RunLogStore {
  const waitOut = async (
    error: unknown,
    attempt: number,
    what: string,
    runId: string,
  ): Promise<void> => {
    if (codeOf(error) !== "STORE_UNAVAILABLE" || options.closing()) {
      throw error;
    }
    if (attempt === 0) {
      options.log.log("warn", "store_unavailable_waiting", {
        run_id: runId,
        operation: what,
        error: error instanceof Error ? error.message : String(error),
      });
    }
    await options.clock.delay(
      Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** attempt),
    ).done;
  };

  // A call that waits out an unavailable store and tries again.
  const retried = async <T>(
    what: string,
    runId: string,
    call: () => Promise<T>,
  ): Promise<T> => {
    for (let attempt = 0;; attempt++) {
      try {
        return await call();
      } catch (error) {
        await waitOut(error, attempt, what, runId);
      }
    }
  };

  const readLog: RunLogStore["readLog"] = (runId, readOptions) =>
    retried("read", runId, () => store.readLog(runId, readOptions));

  const landed = async (records: readonly LogRecord[]): Promise<boolean> => {
    const first = records[0]!;
    const stored = await readLog(first.run_id, { fromSeq: first.seq });
    return records.every((record, index) =>
      stored[index]?.hash === record.hash
    );
  };

  // Snapshots pass through unfenced: one only ever names a record that an
  // accepted (fenced) append wrote, and the store keeps the latest by seq.
  const snapshots: Pick<RunLogStore, "putSnapshot" | "getSnapshot"> = {};
  if (store.putSnapshot !== undefined && store.getSnapshot !== undefined) {
    snapshots.putSnapshot = (snapshot) => store.putSnapshot!(snapshot);
    snapshots.getSnapshot = (runId) => store.getSnapshot!(runId);
  }

  return {
    ...snapshots,
    readLog,
    // A barrier waits out an unavailable store like an append; one whose
    // commits were lost meanwhile fails on its mark instead.
    syncBarrier: (mark) =>
      retried(
        "barrier",
        mark?.run_id ?? "",
        () =>
          store.syncBarrier(
            mark === undefined ? undefined : { ...mark, epoch: options.epoch },
          ),
      ),
    whenDurable: (committed) => store.whenDurable(committed),
    waitingSignals: (runId) =>
      retried("read", runId, () => store.waitingSignals(runId)),
    durability: () => store.durability(),
    async append(
      records: readonly LogRecord[],
      appendOptions: Omit<AppendOptions, "epoch"> = {},
    ) {
      const runId = records[0]?.run_id ?? "";
      let uncertain = false;
      for (let attempt = 0;; attempt++) {
        try {
          await store.append(records, {
            ...appendOptions,
            epoch: options.epoch,
          });
          return;
        } catch (error) {
          const code = codeOf(error);
          if (code === "STORE_LEASE_LOST") {
            options.log.log("warn", "append_refused", {
              run_id: runId,
              epoch: options.epoch,
              code,
            });
            options.onLeaseLost();
            throw error;
          }
          if (code === "STORE_SEQUENCE_CONFLICT" && uncertain) {
            if (await landed(records)) return;
            throw error;
          }
          await waitOut(error, attempt, "append", runId);
          uncertain = true;
        }
      }
    },
  };
}
