/**
 * One call: the statement in its own transaction on one pooled connection,
 * its rows read through a cursor up to the row limit, answered as JSON.
 *
 * @module
 */
import type { Json } from "../../store/mod.ts";
import {
  Cursor,
  type PgClient,
  type PgResult,
  type Pool,
  RAW_TEXT,
  type RawRow,
} from "./_sql_driver.ts";
import type { SqlRequest } from "./_sql_request.ts";
import { learnTypes, type TypeInfo, typeName } from "./_sql_types.ts";
import { converterFor } from "./_sql_values.ts";
import {
  type EffectLedger,
  recordAnswer,
  recordedAnswer,
} from "./_sql_effects.ts";

/** What one call may do, resolved from the request and the host's limits. */
export interface RunLimits {
  readOnly: boolean;
  timeoutMs: number;
  rowLimit: number;
  answerBytesMax: number;
  /**
   * A write's effect key: its answer is recorded in the effect ledger in
   * the statement's transaction, and a key recorded already is answered
   * from there without running the statement (`_sql_effects.ts`).
   */
  effect?: { key: string; ledger: EffectLedger; datasource: string };
}

/**
 * Runs the statement in its own transaction on one pooled connection. The
 * connection goes back to the pool only after DISCARD ALL succeeded on it;
 * one that failed in any other way is destroyed, so no call inherits a
 * broken connection or another call's session state.
 */
export async function runStatement(
  pool: Pool,
  request: SqlRequest,
  limits: RunLimits,
): Promise<Json> {
  const client = await pool.pg.connect();
  let broken: Error | undefined;
  // A checked-out connection reports its loss as 'error' events, maybe
  // several: unheard, one would end the process. Its 'end' follows.
  let markLost: (error: Error) => void = () => {};
  const lost = new Promise<never>((_, reject) => markLost = reject);
  lost.catch((error: Error) => broken ??= error);
  const onError = (error: Error) => markLost(error);
  const onEnd = () => markLost(new Error("Connection terminated"));
  client.on("error", onError);
  client.on("end", onEnd);
  // Whichever settles first; the other may reject later and must not go
  // unhandled.
  const until = <T>(work: Promise<T>): Promise<T> => {
    work.catch(() => {});
    return Promise.race([work, lost]);
  };
  const effect = limits.readOnly ? undefined : limits.effect;
  try {
    if (effect !== undefined) {
      await until(effect.ledger.prepare(client, effect.datasource));
    }
    await until(
      client.query(limits.readOnly ? "begin read only" : "begin read write"),
    );
    try {
      await until(
        client.query(`set local statement_timeout = ${limits.timeoutMs}`),
      );
      if (effect !== undefined) {
        const recorded = await until(recordedAnswer(client, effect.key));
        if (recorded !== undefined) {
          await until(client.query("rollback"));
          return recorded;
        }
      }
      const { rows, result } = await until(
        readRows(client, request, limits.rowLimit + 1),
      );
      const oids = result.fields.map((field) => field.dataTypeID);
      await until(learnTypes(client, pool.types, oids));
      const answer = answerOf(rows, result, pool.types, limits);
      if (effect !== undefined) {
        await until(recordAnswer(client, effect.key, answer));
      }
      await until(client.query("commit"));
      return answer;
    } catch (error) {
      await until(client.query("rollback")).catch(() => {});
      // Another execution of this call committed first (this one then
      // failed on the ledger's key, or on what that one wrote): this one
      // is rolled back whole, and answers what that one recorded.
      if (effect !== undefined) {
        const recorded = await until(recordedAnswer(client, effect.key))
          .catch(() => undefined);
        if (recorded !== undefined) return recorded;
      }
      throw error;
    }
  } finally {
    await until(client.query("discard all")).catch((error) => {
      broken ??= error instanceof Error ? error : new Error(String(error));
    });
    client.off("error", onError);
    client.off("end", onEnd);
    // An error destroys the connection instead of pooling it again.
    client.release(broken ?? false);
  }
}

/** At most `count` rows; the portal is closed, so the rest is never fetched. */
function readRows(
  client: PgClient,
  request: SqlRequest,
  count: number,
): Promise<{ rows: RawRow[]; result: PgResult<RawRow> }> {
  const cursor = client.query(
    new Cursor(request.sql, request.params.map(paramText), {
      rowMode: "array",
      types: RAW_TEXT,
    }),
  );
  return new Promise((resolve, reject) => {
    cursor.read(
      count,
      (error, rows, result) => {
        // After an error pg-cursor has already ended the portal.
        if (error) return reject(error);
        cursor.close((closeError: Error | null | undefined) =>
          closeError ? reject(closeError) : resolve({ rows, result })
        );
      },
    );
  });
}

/**
 * Parameters travel as text with type "unknown", so PostgreSQL infers each
 * from its use; arrays and objects as JSON text (cast with `$1::jsonb`).
 */
function paramText(value: Json): string | null {
  if (value === null) return null;
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") {
    return String(value);
  }
  return JSON.stringify(value);
}

const encoder = new TextEncoder();

function answerOf(
  raw: RawRow[],
  result: PgResult<RawRow>,
  types: Map<number, TypeInfo>,
  limits: RunLimits,
): Json {
  const columns = result.fields.map((field) => ({
    name: field.name,
    type: typeName(field.dataTypeID, types),
  }));
  const converters = result.fields.map((field) =>
    converterFor(field.dataTypeID, types)
  );
  const rows: Json[][] = [];
  let bytes = encoder.encode(JSON.stringify(columns)).length + 200;
  let truncated = raw.length > limits.rowLimit;
  for (const values of raw.slice(0, limits.rowLimit)) {
    const row = values.map((value, index) =>
      value === null ? null : converters[index]!(value)
    );
    bytes += encoder.encode(JSON.stringify(row)).length + 1;
    if (bytes > limits.answerBytesMax) {
      truncated = true;
      break;
    }
    rows.push(row);
  }
  return {
    ok: true,
    columns,
    rows,
    // Rows returned; for a statement that returns none, rows affected.
    row_count: rows.length === 0 && !truncated && result.rowCount !== null
      ? result.rowCount
      : rows.length,
    truncated,
    // Null when the row limit cut the statement short: PostgreSQL sends the
    // command tag only when a statement completes.
    command: result.command,
  };
}
