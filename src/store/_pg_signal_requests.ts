import { RUNNABLE_CHANNEL } from "./_pg_listener.ts";
import type { PgRowQuery } from "./_pg_driver.ts";
import type { Json } from "./canonical_json.ts";
import type { SignalRequest } from "./store.ts";

/**
 * Signals left for the node that holds a run (`Store.requestSignal`). The
 * run's `signals_waiting` counts its requests: a park checks that column of
 * the row it updates, where a look at this table could miss a request whose
 * statement holds the row (READ COMMITTED re-checks only the updated row).
 * Each write is one statement, so the count and the requests agree.
 */
export class PgSignalRequests {
  readonly #query: PgRowQuery;

  constructor(query: PgRowQuery) {
    this.#query = query;
  }

  async request(request: SignalRequest): Promise<boolean> {
    const rows = await this.#query(
      `WITH counted AS (
         UPDATE runs SET parked = false, signals_waiting = signals_waiting + 1
         WHERE run_id = $2 AND status IN ('running', 'paused')
         RETURNING run_id
       ), stored AS (
         INSERT INTO signal_requests (id, run_id, name, payload)
         SELECT $1, run_id, $3, $4 FROM counted
         RETURNING run_id
       )
       SELECT run_id, pg_notify('${RUNNABLE_CHANNEL}', '') FROM stored`,
      [
        request.id,
        request.run_id,
        request.name,
        JSON.stringify(request.payload),
      ],
    );
    return rows.length > 0;
  }

  async pending(owner: string): Promise<SignalRequest[]> {
    const rows = await this.#query(
      `SELECT s.id, s.run_id, s.name, s.payload
       FROM signal_requests AS s JOIN runs AS r ON r.run_id = s.run_id
       WHERE r.lease_owner = $1 AND r.status IN ('running', 'paused')
       ORDER BY s.seq`,
      [owner],
    );
    return rows.map(toRequest);
  }

  async of(runId: string): Promise<SignalRequest[]> {
    const rows = await this.#query(
      `SELECT id, run_id, name, payload FROM signal_requests
       WHERE run_id = $1 ORDER BY seq`,
      [runId],
    );
    return rows.map(toRequest);
  }

  async waiting(id: string): Promise<boolean> {
    const rows = await this.#query(
      "SELECT 1 FROM signal_requests WHERE id = $1",
      [id],
    );
    return rows.length > 0;
  }

  async drop(id: string): Promise<boolean> {
    const rows = await this.#query(
      `WITH dropped AS (
         DELETE FROM signal_requests WHERE id = $1 RETURNING run_id
       )
       UPDATE runs SET signals_waiting = signals_waiting - 1
       FROM dropped WHERE runs.run_id = dropped.run_id
       RETURNING runs.run_id`,
      [id],
    );
    return rows.length > 0;
  }
}

function toRequest(row: Record<string, unknown>): SignalRequest {
  return {
    id: String(row.id),
    run_id: String(row.run_id),
    name: String(row.name),
    payload: JSON.parse(String(row.payload)) as Json,
  };
}
