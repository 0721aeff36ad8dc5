import { AosError } from "../errors/mod.ts";
import type { LogRecord } from "./record.ts";

/** Checks a batch is non-empty, of one run, and consecutive; returns its first. */
export function assertConsecutive(records: readonly LogRecord[]): LogRecord {
  const first = records[0];
  if (first === undefined) throw new Error("append: no records");
  records.forEach((record, index) => {
    if (record.run_id !== first.run_id || record.seq !== first.seq + index) {
      throw new Error("append: records must be consecutive records of one run");
    }
    if (index > 0 && record.prev !== records[index - 1]!.hash) {
      throw new Error("append: records must form a hash chain");
    }
  });
  return first;
}

/** The error of an append that lost the race for a sequence number. */
export function sequenceConflict(
  runId: string,
  expectedSeq: number,
  actualSeq: number,
): AosError {
  return new AosError(
    "STORE_SEQUENCE_CONFLICT",
    `run ${runId}: append at seq ${actualSeq} refused, the log's next seq is ${expectedSeq}`,
    {
      details: {
        run_id: runId,
        next_seq: expectedSeq,
        attempted_seq: actualSeq,
      },
    },
  );
}

/** The error of a fenced append whose lease another node has taken over. */
export function leaseLost(
  runId: string,
  heldEpoch: number,
  currentEpoch: number,
): AosError {
  return new AosError(
    "STORE_LEASE_LOST",
    `run ${runId}: append refused, the lease at epoch ${heldEpoch} was taken over (epoch ${currentEpoch})`,
    {
      details: {
        run_id: runId,
        held_epoch: heldEpoch,
        current_epoch: currentEpoch,
      },
    },
  );
}

/**
 * The error of an append that would end a run while signal requests wait
 * for it (`Store.requestSignal`): the run records them first, so a signal
 * a sender was told waits is never lost to the run's end.
 */
export function signalsWaiting(runId: string, waiting: number): AosError {
  return new AosError(
    "STORE_SIGNALS_WAITING",
    `run ${runId}: append refused, it ends the run while ${waiting} signal request(s) wait for it`,
    { details: { run_id: runId, signals_waiting: waiting } },
  );
}

/**
 * The error of a run creation whose idempotency claim is no longer pending:
 * it outlived its lock and another request took the key over.
 */
export function idempotencyClaimLost(key: string): AosError {
  return new AosError(
    "IDEMPOTENCY_KEY_IN_PROGRESS",
    `the claim on idempotency key ${key} was lost; retry the request`,
    { details: { idempotency_key: key } },
  );
}

/**
 * The error of a run creation refused by back-pressure: `unfinished` runs
 * were unfinished when it was asked to stay below `unfinishedMax`.
 */
export function queueFull(unfinished: number, unfinishedMax: number): AosError {
  return new AosError(
    "RUN_QUEUE_FULL",
    `${unfinished} runs are unfinished (at most ${unfinishedMax} for a new one); retry later`,
    { details: { unfinished, unfinished_max: unfinishedMax } },
  );
}
