import type { PgQueryable } from "./_pg_driver.ts";

/** Runs created before the statistics are first refreshed, by default. */
const FIRST_REFRESH_RUNS = 500;

/** Options of `GrowthStatistics`. */
export interface GrowthStatisticsOptions {
  /** Runs this node creates before the first refresh (then: as many as the table holds). */
  firstRefreshRuns?: number;
}

/**
 * Keeps the planner's statistics of the tables that grow with runs
 * (`runs`, `budget_entries`) current while they grow fast. The batch
 * statements join those tables with their input arrays, and PostgreSQL
 * plans a prepared statement once for all its later executions: planned
 * while `runs` held a few hundred rows, an append batch read the whole
 * table (a sequential scan) for as long as the plan stood, which was until
 * autovacuum analyzed the table, up to a minute later (its naptime) and
 * 3,700 scans of a growing table into the `runs_postgres` benchmark. So the
 * store analyzes them itself each time this node has created as many runs
 * as the table held at the last analysis (doubling it), which invalidates
 * the plans; past that, autovacuum's own analyses keep them. A role that
 * may not analyze the tables gets a warning from PostgreSQL and nothing
 * changes.
 */
export class GrowthStatistics {
  readonly #db: PgQueryable;
  #created = 0;
  #nextAt: number;
  #refreshing: Promise<void> | undefined;
  readonly #firstRefreshRuns: number;

  constructor(db: PgQueryable, options: GrowthStatisticsOptions = {}) {
    this.#db = db;
    this.#firstRefreshRuns = options.firstRefreshRuns ?? FIRST_REFRESH_RUNS;
    this.#nextAt = this.#firstRefreshRuns;
  }

  /** Counts a run this node created; refreshes the statistics when due. */
  created(): void {
    this.#created++;
    if (this.#refreshing !== undefined || this.#created < this.#nextAt) return;
    this.#refreshing = this.#refresh().finally(() => {
      this.#refreshing = undefined;
    });
  }

  /** Resolves once no refresh is under way. */
  async settled(): Promise<void> {
    await this.#refreshing;
  }

  async #refresh(): Promise<void> {
    try {
      // SKIP_LOCKED: a table autovacuum or another node is analyzing is
      // left to them rather than waited for.
      await this.#db.query("ANALYZE (SKIP_LOCKED) runs, budget_entries");
      const { rows } = await this.#db.query(
        "SELECT reltuples FROM pg_class WHERE oid = 'runs'::regclass",
      );
      this.#created = 0;
      this.#nextAt = Math.max(
        this.#firstRefreshRuns,
        Number(rows[0]?.reltuples ?? 0),
      );
    } catch {
      // The store is closing or away: the next creation past the mark
      // tries again, and autovacuum analyzes the tables regardless.
    }
  }
}
