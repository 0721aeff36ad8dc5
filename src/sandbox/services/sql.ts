/**
 * The SQL host service behind `aos_sql`: one parameterised statement per
 * call against a configured PostgreSQL datasource, in its own transaction,
 * answered as JSON. The answer is recorded in the run's log, so replay needs
 * no database, and it never holds a credential.
 *
 * What a call may do, and why:
 * - One statement, with its parameters passed separately (`$1..$n`) and never
 *   interpolated. The text is scanned (quotes, dollar quotes, comments) and
 *   refused when a `;` is followed by more, and PostgreSQL's extended protocol
 *   refuses several statements again. String literals are allowed: whoever
 *   writes the query text owns it; data belongs in `params`.
 * - Only data statements: SELECT, WITH, VALUES, TABLE, SHOW, EXPLAIN, INSERT,
 *   UPDATE, DELETE, MERGE. Transaction control, SET, DDL and the like are
 *   refused, so a statement cannot end the transaction it runs in.
 * - Read-only unless the skill holds `sql:write`: the statement runs inside
 *   `BEGIN READ ONLY`, which PostgreSQL enforces (SQLSTATE 25006), on the
 *   datasource's `readOnlyUrl` when it has one.
 * - A write with an effect key (every call of a run's step) is applied once:
 *   its answer is recorded in the datasource's `aos_effects` in the same
 *   transaction, and a re-executed call answers from there
 *   (`_sql_effects.ts`).
 * - `SET LOCAL statement_timeout` of `min(timeout_ms, statementTimeoutMsMax)`.
 * - At most `min(row_limit, rowsMax)` rows (one more is fetched to know
 *   whether there were more) and about `answerBytesMax` of rows.
 * - Connections are pooled; after each call `DISCARD ALL` drops whatever
 *   session state the statement left (`set_config`, advisory locks), so one
 *   call never sees another's settings and results do not depend on which
 *   pooled connection answered.
 *
 * Values are JSON: numbers for int2/int4/oid/float4/float8 (NaN and
 * infinities as strings), strings for int8 and numeric (no precision loss),
 * ISO 8601 strings for timestamps (UTC, microseconds kept) and dates, base64
 * for bytea, parsed JSON for json/jsonb, arrays for arrays, text otherwise.
 *
 * The driver is pg (node-postgres) with pg-cursor, not postgres.js: with
 * postgres.js 3.4.9 a backend that goes away mid-transaction ends the whole
 * process (an uncaught TypeError from a write scheduled on the missing
 * socket, porsager/postgres#1154 and #1208), and under repeated connection
 * loss its reserved connections hung or leaked. sql_test.ts kills backends
 * idle and mid-statement to hold pg to this.
 *
 * @module
 */
import { AosError } from "../../errors/mod.ts";
import type { Json } from "../../store/mod.ts";
import type { HostService, HostServiceContext } from "../host_functions.ts";
import type { Pool } from "./_sql_driver.ts";
import { parseSqlRequest } from "./_sql_request.ts";
import { checkStatement } from "./_sql_statement.ts";
import { EffectLedger } from "./_sql_effects.ts";

export { parseSqlRequest, type SqlRequest } from "./_sql_request.ts";
export { checkStatement } from "./_sql_statement.ts";
export { parseArrayLiteral } from "./_sql_values.ts";

/** Where a datasource lives; only the host ever sees these URLs. */
export interface SqlDatasource {
  /** `postgres://user:password@host:port/database` (query options allowed). */
  url: string;
  /** Used for skills without `sql:write`; a role with read grants only. */
  readOnlyUrl?: string | undefined;
}

/** Options of `sqlService`. */
export interface SqlServiceOptions {
  /** Datasources by the name skills use. */
  datasources: Record<string, SqlDatasource>;
  /** Ceiling of a statement's timeout (default 20 s, under the skill's 30 s). */
  statementTimeoutMsMax?: number;
  /** Most rows an answer holds (default 10 000). */
  rowsMax?: number;
  /** Rows stop (truncated) once the answer would pass this (default 1 MiB). */
  answerBytesMax?: number;
  /** Connections per pool (default 4). */
  connectionsMax?: number;
  /** Giving up on connecting, or on waiting for a free connection (default 10 s). */
  connectTimeoutMs?: number;
}

/** The limits of `SqlServiceOptions`, all set. */
export type SqlLimits = Required<Omit<SqlServiceOptions, "datasources">>;

/** Defaults of the optional `SqlServiceOptions`. */
export const SQL_SERVICE_DEFAULTS: Readonly<SqlLimits> = Object.freeze({
  statementTimeoutMsMax: 20_000,
  rowsMax: 10_000,
  answerBytesMax: 1024 * 1024,
  connectionsMax: 4,
  connectTimeoutMs: 10_000,
});

// The driver side (pg and pg-cursor, about 13 MB resident) is loaded at the
// first statement, so a node whose skills never use SQL does not hold it.
interface Engine {
  Pool: typeof import("./_sql_driver.ts").Pool;
  runStatement: typeof import("./_sql_run.ts").runStatement;
  classify: typeof import("./_sql_errors.ts").classify;
  secretsOf: typeof import("./_sql_errors.ts").secretsOf;
}
let engine: Promise<Engine> | undefined;

function loadEngine(): Promise<Engine> {
  engine ??= Promise.all([
    import("./_sql_driver.ts"),
    import("./_sql_run.ts"),
    import("./_sql_errors.ts"),
  ]).then(([driver, run, errors]) => ({
    Pool: driver.Pool,
    runStatement: run.runStatement,
    classify: errors.classify,
    secretsOf: errors.secretsOf,
  }));
  return engine;
}

/** A host service that can be shut down. */
export type SqlService = HostService & { close(): Promise<void> };

/**
 * The `aos_sql` service over `options.datasources`. Pools open on first use.
 *
 * @example
 * ```ts
 * const sql = sqlService({ datasources: { main: { url: Deno.env.get("AOS_DATASOURCE_MAIN")! } } });
 * const sandbox = new Sandbox({ modules, clock, random, services: { sql } });
 * // ... on shutdown
 * await sql.close();
 * ```
 */
export function sqlService(options: SqlServiceOptions): SqlService {
  const { datasources: _, ...given } = options;
  const limits: SqlLimits = { ...SQL_SERVICE_DEFAULTS, ...definedOnly(given) };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new Error(`sqlService: ${name} must be a positive integer`);
    }
  }
  const pools = new Map<string, Pool>();
  const ledgers = new WeakMap<Pool, EffectLedger>();
  const ledgerOf = (pool: Pool): EffectLedger => {
    let ledger = ledgers.get(pool);
    if (ledger === undefined) {
      ledger = new EffectLedger();
      ledgers.set(pool, ledger);
    }
    return ledger;
  };
  const urls = Object.values(options.datasources).flatMap((source) => [
    source.url,
    source.readOnlyUrl,
  ]);
  let closed = false;

  const poolFor = (
    { Pool }: Engine,
    name: string,
    readOnly: boolean,
  ): Pool => {
    const source = options.datasources[name]!;
    const url = readOnly && source.readOnlyUrl !== undefined
      ? source.readOnlyUrl
      : source.url;
    const key = `${name}\n${url === source.url ? "rw" : "ro"}`;
    let pool = pools.get(key);
    if (pool === undefined) {
      pool = new Pool(url, limits);
      pools.set(key, pool);
    }
    return pool;
  };

  return {
    async answer(request: unknown, context: HostServiceContext): Promise<Json> {
      const parsed = parseSqlRequest(request);
      if (!Object.hasOwn(options.datasources, parsed.datasource)) {
        throw new AosError(
          "ERR_SQL_DATASOURCE_UNKNOWN",
          `datasource "${parsed.datasource}" is not configured on this host`,
          {
            details: {
              datasource: parsed.datasource,
              configured: Object.keys(options.datasources).sort(),
            },
          },
        );
      }
      checkStatement(parsed.sql);
      const loaded = await loadEngine();
      if (closed) {
        throw new AosError("ERR_SQL_CONNECTION", "the sql service is closed", {
          details: { datasource: parsed.datasource },
        });
      }
      const readOnly = !context.permissions.includes("sql:write");
      try {
        const pool = poolFor(loaded, parsed.datasource, readOnly);
        const key = context.effect_key;
        return await loaded.runStatement(
          pool,
          parsed,
          {
            ...(readOnly || key === undefined ? {} : {
              effect: {
                key,
                ledger: ledgerOf(pool),
                datasource: parsed.datasource,
              },
            }),
            readOnly,
            timeoutMs: Math.min(
              parsed.timeout_ms ?? limits.statementTimeoutMsMax,
              limits.statementTimeoutMsMax,
            ),
            rowLimit: Math.min(
              parsed.row_limit ?? limits.rowsMax,
              limits.rowsMax,
            ),
            answerBytesMax: limits.answerBytesMax,
          },
        );
      } catch (error) {
        throw loaded.classify(
          error,
          parsed.datasource,
          loaded.secretsOf(urls),
        );
      }
    },
    async close(): Promise<void> {
      closed = true;
      const all = [...pools.values()];
      pools.clear();
      // Statements still running end within their statement timeout.
      await Promise.all(all.map((pool) => pool.end()));
    },
  };
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(value).filter(([, member]) => member !== undefined),
  ) as Partial<T>;
}
