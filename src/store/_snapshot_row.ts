import type { RunSnapshot } from "./store.ts";

/** A `run_snapshots` row as both stores keep it: the state as JSON text. */
export function snapshotFromRow(row: Record<string, unknown>): RunSnapshot {
  return {
    run_id: String(row.run_id),
    seq: Number(row.seq),
    hash: String(row.hash),
    log_bytes: Number(row.log_bytes),
    version: Number(row.version),
    state: JSON.parse(String(row.state)),
  };
}
