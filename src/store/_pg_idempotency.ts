import { idempotencyClaimLost } from "./_append_checks.ts";
import type { PgQueryable, PgRow } from "./_pg_driver.ts";
import type { JsonObject } from "./canonical_json.ts";
import type { IdempotencyClaim, IdempotencyEntry, RunMeta } from "./store.ts";

// Idempotency keys on PostgreSQL, inside the caller's transaction. A new key
// is claimed by its INSERT; a concurrent claimer's INSERT waits for that
// transaction and then finds the row. Rows are locked (FOR UPDATE) before a
// take-over, so two requests never both take over an abandoned claim.

/** Expired keys purged by one claim, so a claim's cost stays bounded. */
const PURGE_BATCH = 100;

/** `Store.claimIdempotencyKey` within a transaction. */
export async function claimKey(
  client: PgQueryable,
  claim: IdempotencyClaim,
): Promise<{ claimed: true } | { claimed: false; entry: IdempotencyEntry }> {
  await client.query(
    `DELETE FROM idempotency_keys WHERE (tenant, key) IN (
       SELECT tenant, key FROM idempotency_keys WHERE expires_at <= $1
       LIMIT ${PURGE_BATCH} FOR UPDATE SKIP LOCKED)`,
    [claim.nowMs],
  );
  const values = [
    claim.tenant,
    claim.key,
    claim.fingerprint,
    claim.nowMs,
    claim.lockedUntilMs,
    claim.expiresAtMs,
  ];
  const inserted = await client.query(
    `INSERT INTO idempotency_keys (tenant, key, fingerprint, state, run_id, response, created_at, locked_until, expires_at)
     VALUES ($1, $2, $3, 'pending', NULL, NULL, $4, $5, $6)
     ON CONFLICT (tenant, key) DO NOTHING`,
    values,
  );
  if (inserted.rowCount === 1) return { claimed: true };
  const row = (await client.query(
    "SELECT * FROM idempotency_keys WHERE tenant = $1 AND key = $2 FOR UPDATE",
    [claim.tenant, claim.key],
  )).rows[0];
  const free = row === undefined ||
    Number(row.expires_at) <= claim.nowMs ||
    (row.state === "pending" && Number(row.locked_until) <= claim.nowMs);
  if (!free) return { claimed: false, entry: toEntry(row) };
  await client.query(
    `INSERT INTO idempotency_keys (tenant, key, fingerprint, state, run_id, response, created_at, locked_until, expires_at)
     VALUES ($1, $2, $3, 'pending', NULL, NULL, $4, $5, $6)
     ON CONFLICT (tenant, key) DO UPDATE SET fingerprint = excluded.fingerprint,
       state = 'pending', run_id = NULL, response = NULL, created_at = excluded.created_at,
       locked_until = excluded.locked_until, expires_at = excluded.expires_at`,
    values,
  );
  return { claimed: true };
}

/** `Store.releaseIdempotencyKey`. */
export async function releaseKey(
  client: PgQueryable,
  tenant: string,
  key: string,
  fingerprint: string,
): Promise<void> {
  await client.query(
    "DELETE FROM idempotency_keys WHERE tenant = $1 AND key = $2 AND fingerprint = $3 AND state = 'pending'",
    [tenant, key, fingerprint],
  );
}

/**
 * Completes the pending claim `createRun` was given, inside its
 * transaction: refused (the transaction rolls back) when the claim was lost.
 */
export async function completeKey(
  client: PgQueryable,
  runId: string,
  meta: RunMeta,
): Promise<void> {
  if (meta.idempotency === undefined) return;
  await completeClaim(client, {
    ...meta.idempotency,
    tenant: meta.tenant,
    run_id: runId,
  });
}

/** `Store.completeIdempotencyKey`, and the completion `createRun` makes. */
export async function completeClaim(
  client: PgQueryable,
  completion: {
    tenant: string;
    key: string;
    fingerprint: string;
    run_id: string;
    response: JsonObject;
  },
): Promise<void> {
  const { tenant, key, fingerprint, run_id, response } = completion;
  const completed = await client.query(
    `UPDATE idempotency_keys SET state = 'completed', run_id = $1, response = $2
     WHERE tenant = $3 AND key = $4 AND fingerprint = $5 AND state = 'pending'`,
    [run_id, JSON.stringify(response), tenant, key, fingerprint],
  );
  if (completed.rowCount !== 1) throw idempotencyClaimLost(key);
}

function toEntry(row: PgRow): IdempotencyEntry {
  return {
    fingerprint: String(row.fingerprint),
    state: row.state === "completed" ? "completed" : "pending",
    run_id: row.run_id === null ? null : String(row.run_id),
    response: row.response === null ? null : JSON.parse(String(row.response)),
    created_at: Number(row.created_at),
    expires_at: Number(row.expires_at),
  };
}
