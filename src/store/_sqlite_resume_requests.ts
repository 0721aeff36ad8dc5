import type { StatementSync } from "node:sqlite";
import type { ResumeRequest } from "./store.ts";

type Row = Record<string, unknown>;

/**
 * A resume left for the node that holds a paused run
 * (`Store.requestResume`): one per run, in the run's row (`resume_id`,
 * `resume_body`), so a park, which must not hide it, checks the row it
 * updates. Callers run the writes inside the store's write transaction.
 */
export class SqliteResumeRequests {
  readonly #statement: (sql: string) => StatementSync;

  constructor(statement: (sql: string) => StatementSync) {
    this.#statement = statement;
  }

  request(request: ResumeRequest): boolean {
    return Number(
      this.#statement(
        `UPDATE runs SET resume_id = ?, resume_body = ?, parked = 0
         WHERE run_id = ? AND status = 'paused' AND resume_id IS NULL`,
      ).run(request.id, JSON.stringify(request.body), request.run_id).changes,
    ) > 0;
  }

  pending(owner: string): ResumeRequest[] {
    const rows = this.#statement(
      `SELECT run_id, resume_id, resume_body FROM runs
       WHERE lease_owner = ? AND status IN ('running', 'paused')
         AND resume_id IS NOT NULL
       ORDER BY created_at, run_id`,
    ).all(owner) as Row[];
    return rows.map((row) => ({
      id: String(row.resume_id),
      run_id: String(row.run_id),
      body: JSON.parse(String(row.resume_body)),
    }));
  }

  waiting(runId: string, id: string): boolean {
    return this.#statement(
      "SELECT 1 FROM runs WHERE run_id = ? AND resume_id = ?",
    ).get(runId, id) !== undefined;
  }

  /** Drops the run's resume request if its id is among `ids` (a JSON array). */
  drop(runId: string, ids: string): boolean {
    return Number(
      this.#statement(
        `UPDATE runs SET resume_id = NULL, resume_body = NULL
         WHERE run_id = ? AND resume_id IN (SELECT value FROM json_each(?))`,
      ).run(runId, ids).changes,
    ) > 0;
  }
}
