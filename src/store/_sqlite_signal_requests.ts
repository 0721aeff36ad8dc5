import type { StatementSync } from "node:sqlite";
import type { Json } from "./canonical_json.ts";
import type { SignalRequest } from "./store.ts";

type Row = Record<string, unknown>;

/**
 * Signals left for the node that holds a run (`Store.requestSignal`). The
 * run's `signals_waiting` counts its requests, so that a park, which must
 * not hide a waiting request, checks a column of the row it updates.
 * Callers run the writes inside the store's write transaction.
 */
export class SqliteSignalRequests {
  readonly #statement: (sql: string) => StatementSync;

  constructor(statement: (sql: string) => StatementSync) {
    this.#statement = statement;
  }

  request(request: SignalRequest): boolean {
    const counted = this.#statement(
      `UPDATE runs SET parked = 0, signals_waiting = signals_waiting + 1
       WHERE run_id = ? AND status IN ('running', 'paused')`,
    ).run(request.run_id);
    if (Number(counted.changes) === 0) return false;
    this.#statement(
      "INSERT INTO signal_requests (id, run_id, name, payload) VALUES (?, ?, ?, ?)",
    ).run(
      request.id,
      request.run_id,
      request.name,
      JSON.stringify(request.payload),
    );
    return true;
  }

  pending(owner: string): SignalRequest[] {
    const rows = this.#statement(
      `SELECT s.id, s.run_id, s.name, s.payload
       FROM signal_requests AS s JOIN runs AS r ON r.run_id = s.run_id
       WHERE r.lease_owner = ? AND r.status IN ('running', 'paused')
       ORDER BY s.seq`,
    ).all(owner) as Row[];
    return rows.map(toRequest);
  }

  of(runId: string): SignalRequest[] {
    const rows = this.#statement(
      `SELECT id, run_id, name, payload FROM signal_requests
       WHERE run_id = ? ORDER BY seq`,
    ).all(runId) as Row[];
    return rows.map(toRequest);
  }

  /** How many of `ids` (a JSON array) are requests waiting for `runId`. */
  waitingAmong(runId: string, ids: string): number {
    const row = this.#statement(
      `SELECT COUNT(*) AS n FROM signal_requests
       WHERE run_id = ? AND id IN (SELECT value FROM json_each(?))`,
    ).get(runId, ids) as Row;
    return Number(row.n);
  }

  /**
   * Drops the requests of `runId` among `ids` (a JSON array), `count` of
   * them waiting (`waitingAmong`): their records are being written.
   */
  deliver(runId: string, ids: string, count: number): void {
    if (count === 0) return;
    this.#statement(
      `DELETE FROM signal_requests
       WHERE run_id = ? AND id IN (SELECT value FROM json_each(?))`,
    ).run(runId, ids);
    this.#statement(
      "UPDATE runs SET signals_waiting = signals_waiting - ? WHERE run_id = ?",
    ).run(count, runId);
  }

  waiting(id: string): boolean {
    return this.#statement("SELECT 1 FROM signal_requests WHERE id = ?")
      .get(id) !== undefined;
  }

  drop(id: string): boolean {
    const row = this.#statement(
      "DELETE FROM signal_requests WHERE id = ? RETURNING run_id",
    ).get(id) as Row | undefined;
    if (row === undefined) return false;
    this.#statement(
      "UPDATE runs SET signals_waiting = signals_waiting - 1 WHERE run_id = ?",
    ).run(String(row.run_id));
    return true;
  }
}

function toRequest(row: Row): SignalRequest {
  return {
    id: String(row.id),
    run_id: String(row.run_id),
    name: String(row.name),
    payload: JSON.parse(String(row.payload)) as Json,
  };
}
