import type {
  RunSnapshot,
  RunStatus,
  RunSummary,
  SkillRecord,
} from "./store.ts";

// Rows of the tables both stores share, read back the same way; the drivers
// hand over plain column objects.
type Row = Record<string, unknown>;

/** A `run_snapshots` row as both stores keep it: the state as JSON text. */
export function snapshotFromRow(row: Row): RunSnapshot {
  return {
    run_id: String(row.run_id),
    seq: Number(row.seq),
    hash: String(row.hash),
    log_bytes: Number(row.log_bytes),
    version: Number(row.version),
    state: JSON.parse(String(row.state)),
  };
}

/** A `skills` row: the manifest as JSON text. */
export function skillFromRow(row: Row): SkillRecord {
  return {
    name: String(row.name),
    version: String(row.version),
    sha256: String(row.sha256),
    manifest: JSON.parse(String(row.manifest)),
    installed_at: Number(row.installed_at),
  };
}

/** A `runs` index row. */
export function summaryFromRow(row: Row): RunSummary {
  return {
    run_id: String(row.run_id),
    tenant: String(row.tenant),
    status: String(row.status) as RunStatus,
    created_at: Number(row.created_at),
    updated_at: Number(row.updated_at),
    last_seq: Number(row.last_seq),
    digest: String(row.digest),
  };
}
