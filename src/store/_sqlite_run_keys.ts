import type { StatementSync } from "node:sqlite";
import { idempotencyClaimLost } from "./_append_checks.ts";
import type { JsonObject } from "./canonical_json.ts";
import type { IdempotencyClaim, IdempotencyEntry, RunMeta } from "./store.ts";

type Row = Record<string, unknown>;

/**
 * What the SQLite store keeps beside a run's log: the skills it pinned (the
 * `skill` filter of `listRuns`) and idempotency keys. Callers run these
 * inside the store's write transaction, so a key is claimed, taken over or
 * completed by one writer at a time.
 */
export class SqliteRunKeys {
  readonly #statement: (sql: string) => StatementSync;

  constructor(statement: (sql: string) => StatementSync) {
    this.#statement = statement;
  }

  /** The part of `createRun` beyond the run itself. */
  recordRunMeta(runId: string, meta: RunMeta): void {
    for (const skill of new Set(meta.skills ?? [])) {
      this.#statement("INSERT INTO run_skills (skill, run_id) VALUES (?, ?)")
        .run(skill, runId);
    }
    if (meta.idempotency === undefined) return;
    this.complete({ ...meta.idempotency, tenant: meta.tenant, run_id: runId });
  }

  /** `Store.completeIdempotencyKey`, and the completion `createRun` makes. */
  complete(completion: {
    tenant: string;
    key: string;
    fingerprint: string;
    run_id: string;
    response: JsonObject;
  }): void {
    const { tenant, key, fingerprint, run_id, response } = completion;
    const completed = this.#statement(
      "UPDATE idempotency_keys SET state = 'completed', run_id = ?, response = ? WHERE tenant = ? AND key = ? AND fingerprint = ? AND state = 'pending'",
    ).run(run_id, JSON.stringify(response), tenant, key, fingerprint);
    if (Number(completed.changes) !== 1) throw idempotencyClaimLost(key);
  }

  /** `Store.claimIdempotencyKey`. */
  claim(
    claim: IdempotencyClaim,
  ): { claimed: true } | { claimed: false; entry: IdempotencyEntry } {
    this.#statement("DELETE FROM idempotency_keys WHERE expires_at <= ?")
      .run(claim.nowMs);
    const row = this.#statement(
      "SELECT * FROM idempotency_keys WHERE tenant = ? AND key = ?",
    ).get(claim.tenant, claim.key) as Row | undefined;
    const abandoned = row !== undefined && row.state === "pending" &&
      Number(row.locked_until) <= claim.nowMs;
    if (row !== undefined && !abandoned) {
      return { claimed: false, entry: toEntry(row) };
    }
    this.#statement(
      "INSERT INTO idempotency_keys (tenant, key, fingerprint, state, run_id, response, created_at, locked_until, expires_at) VALUES (?, ?, ?, 'pending', NULL, NULL, ?, ?, ?) ON CONFLICT (tenant, key) DO UPDATE SET fingerprint = excluded.fingerprint, state = 'pending', run_id = NULL, response = NULL, created_at = excluded.created_at, locked_until = excluded.locked_until, expires_at = excluded.expires_at",
    ).run(
      claim.tenant,
      claim.key,
      claim.fingerprint,
      claim.nowMs,
      claim.lockedUntilMs,
      claim.expiresAtMs,
    );
    return { claimed: true };
  }

  /** `Store.releaseIdempotencyKey`. */
  release(tenant: string, key: string, fingerprint: string): void {
    this.#statement(
      "DELETE FROM idempotency_keys WHERE tenant = ? AND key = ? AND fingerprint = ? AND state = 'pending'",
    ).run(tenant, key, fingerprint);
  }
}

function toEntry(row: Row): IdempotencyEntry {
  return {
    fingerprint: String(row.fingerprint),
    state: row.state === "completed" ? "completed" : "pending",
    run_id: row.run_id === null ? null : String(row.run_id),
    response: row.response === null ? null : JSON.parse(String(row.response)),
    created_at: Number(row.created_at),
    expires_at: Number(row.expires_at),
  };
}
