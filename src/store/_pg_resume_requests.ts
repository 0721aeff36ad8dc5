import { RUNNABLE_CHANNEL } from "./_pg_listener.ts";
import type { PgRowQuery } from "./_pg_driver.ts";
import type { ResumeRequest } from "./store.ts";

/**
 * A resume left for the node that holds a paused run
 * (`Store.requestResume`): one per run, in the run's row (`resume_id`,
 * `resume_body`), so a park, which must not hide it, checks the row it
 * updates. Each write is one statement.
 */
export class PgResumeRequests {
  readonly #query: PgRowQuery;

  constructor(query: PgRowQuery) {
    this.#query = query;
  }

  async request(request: ResumeRequest): Promise<boolean> {
    const rows = await this.#query(
      `WITH requested AS (
         UPDATE runs SET resume_id = $2, resume_body = $3, parked = false
         WHERE run_id = $1 AND status = 'paused' AND resume_id IS NULL
         RETURNING run_id
       )
       SELECT run_id, pg_notify('${RUNNABLE_CHANNEL}', '') FROM requested`,
      [request.run_id, request.id, JSON.stringify(request.body)],
    );
    return rows.length > 0;
  }

  async pending(owner: string): Promise<ResumeRequest[]> {
    const rows = await this.#query(
      `SELECT run_id, resume_id, resume_body FROM runs
       WHERE lease_owner = $1 AND status IN ('running', 'paused')
         AND resume_id IS NOT NULL
       ORDER BY created_at, run_id`,
      [owner],
    );
    return rows.map((row) => ({
      id: String(row.resume_id),
      run_id: String(row.run_id),
      body: JSON.parse(String(row.resume_body)),
    }));
  }

  async waiting(runId: string, id: string): Promise<boolean> {
    const rows = await this.#query(
      "SELECT 1 FROM runs WHERE run_id = $1 AND resume_id = $2",
      [runId, id],
    );
    return rows.length > 0;
  }

  async drop(runId: string, id: string): Promise<boolean> {
    const rows = await this.#query(
      `UPDATE runs SET resume_id = NULL, resume_body = NULL
       WHERE run_id = $1 AND resume_id = $2 RETURNING run_id`,
      [runId, id],
    );
    return rows.length > 0;
  }
}
