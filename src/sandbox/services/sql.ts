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
import pgUntyped from "pg";
import CursorUntyped from "pg-cursor";
import { AosError, type ErrorCode } from "../../errors/mod.ts";
import type { Json } from "../../store/mod.ts";
import type { HostService, HostServiceContext } from "../host_functions.ts";

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

/** What a guest sends to `aos_sql`. */
export interface SqlRequest {
  datasource: string;
  sql: string;
  params: Json[];
  timeout_ms?: number;
  row_limit?: number;
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
  const secrets = secretsOf(options.datasources);
  let closed = false;

  const poolFor = (name: string, readOnly: boolean): Pool => {
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
      if (closed) {
        throw new AosError("ERR_SQL_CONNECTION", "the sql service is closed", {
          details: { datasource: parsed.datasource },
        });
      }
      const readOnly = !context.permissions.includes("sql:write");
      try {
        return await runStatement(
          poolFor(parsed.datasource, readOnly),
          parsed,
          {
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
        throw classify(error, parsed.datasource, secrets);
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

// --- requests --------------------------------------------------------------

const REQUEST_KEYS = ["datasource", "sql", "params", "timeout_ms", "row_limit"];
/** Most parameters of one statement (PostgreSQL takes 65 535). */
const PARAMS_MAX = 10_000;

function invalid(
  field: string,
  message: string,
  details: Record<string, unknown> = {},
): AosError {
  return new AosError("ERR_SQL_INVALID_QUERY", message, {
    details: { field, ...details },
  });
}

/** Checks the guest's request; throws ERR_SQL_INVALID_QUERY naming the field. */
export function parseSqlRequest(request: unknown): SqlRequest {
  if (
    typeof request !== "object" || request === null || Array.isArray(request)
  ) {
    throw invalid("request", "the sql request must be a JSON object");
  }
  const fields = request as Record<string, unknown>;
  const unknown = Object.keys(fields).filter((key) =>
    !REQUEST_KEYS.includes(key)
  );
  if (unknown.length > 0) {
    throw invalid(
      unknown[0]!,
      `unknown field "${unknown[0]}" in the sql request`,
    );
  }
  const { datasource, sql, params = [], timeout_ms, row_limit } = fields;
  if (typeof datasource !== "string" || datasource === "") {
    throw invalid("datasource", "datasource must be a non-empty string");
  }
  if (typeof sql !== "string" || sql.trim() === "") {
    throw invalid("sql", "sql must be a non-empty string");
  }
  if (!Array.isArray(params) || params.length > PARAMS_MAX) {
    throw invalid(
      "params",
      `params must be an array of at most ${PARAMS_MAX} values`,
    );
  }
  params.forEach((value, index) => {
    if (typeof value === "string" && value.includes("\u0000")) {
      throw invalid(
        `params[${index}]`,
        "a parameter may not contain a NUL character",
      );
    }
  });
  const parsed: SqlRequest = { datasource, sql, params: params as Json[] };
  if (timeout_ms !== undefined) {
    if (!Number.isSafeInteger(timeout_ms) || (timeout_ms as number) < 1) {
      throw invalid("timeout_ms", "timeout_ms must be a positive integer");
    }
    parsed.timeout_ms = timeout_ms as number;
  }
  if (row_limit !== undefined) {
    if (!Number.isSafeInteger(row_limit) || (row_limit as number) < 1) {
      throw invalid("row_limit", "row_limit must be a positive integer");
    }
    parsed.row_limit = row_limit as number;
  }
  return parsed;
}

const STATEMENTS_ALLOWED = new Set([
  "select",
  "with",
  "values",
  "table",
  "show",
  "explain",
  "insert",
  "update",
  "delete",
  "merge",
]);

/**
 * Throws ERR_SQL_INVALID_QUERY unless `text` is one statement of an allowed
 * kind. Scans quotes ('…', E'…', "…", $tag$…$tag$) and comments (--, nested
 * /* *\/) so a `;` or keyword inside them does not count.
 */
export function checkStatement(text: string): void {
  if (text.includes("\u0000")) {
    throw invalid("sql", "the statement may not contain a NUL character");
  }
  let keyword: string | undefined;
  let index = 0;
  let ended = -1; // where a top-level ';' was seen
  while (index < text.length) {
    const next = skipNonCode(text, index);
    if (next !== index) {
      index = next;
      continue;
    }
    const char = text[index]!;
    if (ended >= 0 && !/\s/.test(char)) {
      throw invalid(
        "sql",
        "only one statement per call: remove what follows ';'",
        {
          reason: "multiple_statements",
          position: ended + 1,
        },
      );
    }
    if (char === ";") ended = index;
    if (keyword === undefined && /[A-Za-z]/.test(char)) {
      keyword = /^[A-Za-z_]+/.exec(text.slice(index))![0].toLowerCase();
    } else if (keyword === undefined && char !== "(" && !/\s/.test(char)) {
      keyword = char;
    }
    index++;
  }
  if (keyword === undefined || !STATEMENTS_ALLOWED.has(keyword)) {
    throw invalid(
      "sql",
      `statements of kind "${
        keyword ?? "(empty)"
      }" are not allowed; use one of ${
        [...STATEMENTS_ALLOWED].join(", ").toUpperCase()
      }`,
      { reason: "statement_not_allowed", keyword: keyword ?? null },
    );
  }
}

/** The index after the quoted string or comment at `index`, or `index`. */
function skipNonCode(text: string, index: number): number {
  const char = text[index]!;
  const after = text[index + 1];
  if (char === "-" && after === "-") {
    const end = text.indexOf("\n", index);
    return end < 0 ? text.length : end + 1;
  }
  if (char === "/" && after === "*") return skipBlockComment(text, index);
  if (char === "'") {
    const previous = text[index - 1];
    const escapes = (previous === "E" || previous === "e") &&
      !/[\w$]/.test(text[index - 2] ?? "");
    return skipQuoted(text, index, "'", escapes);
  }
  if (char === '"') return skipQuoted(text, index, '"', false);
  if (char === "$" && !/[\w$]/.test(text[index - 1] ?? "")) {
    const tag = /^\$([A-Za-z_][\w]*)?\$/.exec(text.slice(index));
    if (tag !== null) {
      const end = text.indexOf(tag[0], index + tag[0].length);
      if (end < 0) throw invalid("sql", "unterminated dollar-quoted string");
      return end + tag[0].length;
    }
  }
  return index;
}

function skipQuoted(
  text: string,
  index: number,
  quote: string,
  escapes: boolean,
): number {
  let position = index + 1;
  while (position < text.length) {
    const char = text[position]!;
    if (escapes && char === "\\") {
      position += 2;
      continue;
    }
    if (char === quote) {
      if (text[position + 1] !== quote) return position + 1;
      position += 2;
      continue;
    }
    position++;
  }
  throw invalid(
    "sql",
    `unterminated ${quote === "'" ? "string" : "quoted identifier"}`,
  );
}

function skipBlockComment(text: string, index: number): number {
  let depth = 0;
  let position = index;
  while (position < text.length) {
    if (text.startsWith("/*", position)) {
      depth++;
      position += 2;
    } else if (text.startsWith("*/", position)) {
      depth--;
      position += 2;
      if (depth === 0) return position;
    } else {
      position++;
    }
  }
  throw invalid("sql", "unterminated comment");
}

// --- the driver ------------------------------------------------------------

// pg and pg-cursor ship no types, and @types/pg would bring @types/node,
// which replaces Deno's own node types for every file checked with it (and
// breaks their node:assert calls). These are the members this file uses.

interface PgField {
  name: string;
  dataTypeID: number;
}

interface PgResult<Row> {
  rows: Row[];
  command: string | null;
  rowCount: number | null;
  fields: PgField[];
}

interface PgCursor {
  read(
    count: number,
    callback: (
      error: Error | undefined,
      rows: RawRow[],
      result: PgResult<RawRow>,
    ) => void,
  ): void;
  close(callback: (error?: Error | null) => void): void;
}

interface PgClient {
  query<Row = Record<string, unknown>>(
    text: string,
    values?: unknown[],
  ): Promise<PgResult<Row>>;
  query(cursor: PgCursor): PgCursor;
  on(event: "error" | "end", listener: (error: Error) => void): void;
  off(event: "error" | "end", listener: (error: Error) => void): void;
  /** A truthy argument destroys the connection instead of pooling it. */
  release(destroy: Error | boolean): void;
}

interface PgPool {
  connect(): Promise<PgClient>;
  on(event: "error", listener: (error: Error) => void): void;
  end(): Promise<void>;
}

interface PgDatabaseError extends Error {
  code?: string;
  severity?: string;
  position?: string;
  detail?: string;
  hint?: string;
}

const pg = pgUntyped as {
  Pool: new (config: Record<string, unknown>) => PgPool;
  DatabaseError: abstract new (...args: never[]) => PgDatabaseError;
};
const Cursor = CursorUntyped as new (
  text: string,
  values: (string | null)[],
  config: { rowMode: "array"; types: typeof RAW_TEXT },
) => PgCursor;

type RawRow = (string | null)[];

// --- running a statement ---------------------------------------------------

// Startup options, so value text does not depend on the server's or role's
// settings; DISCARD ALL resets to these, not to the server defaults.
const SESSION_OPTIONS = [
  "-c TimeZone=UTC",
  "-c DateStyle=ISO,MDY",
  "-c IntervalStyle=iso_8601",
  "-c bytea_output=hex",
  "-c extra_float_digits=1",
].join(" ");

// Every value as the text PostgreSQL sent; converterFor() reads it by type.
const RAW_TEXT = { getTypeParser: () => (value: string) => value };

/** One pg pool and what this service learned about its types. */
class Pool {
  readonly pg: PgPool;
  /** Type names and base types by OID, learned from pg_type. */
  readonly types = new Map<number, TypeInfo>();
  #ending: Promise<void> | undefined;

  constructor(url: string, limits: SqlLimits) {
    this.pg = new pg.Pool({
      connectionString: url,
      max: limits.connectionsMax,
      // Bounds both connecting and waiting for a free connection.
      connectionTimeoutMillis: limits.connectTimeoutMs,
      idleTimeoutMillis: 60_000,
      keepAlive: true,
      application_name: "aos",
      options: SESSION_OPTIONS,
    });
    // An idle connection the server closes reports here; the pool drops it.
    // Without a listener the error would end the process.
    this.pg.on("error", () => {});
  }

  /** Ends the pool once, after the connections in use are given back. */
  end(): Promise<void> {
    return this.#ending ??= this.pg.end();
  }
}

interface RunLimits {
  readOnly: boolean;
  timeoutMs: number;
  rowLimit: number;
  answerBytesMax: number;
}

/**
 * Runs the statement in its own transaction on one pooled connection. The
 * connection goes back to the pool only after DISCARD ALL succeeded on it;
 * one that failed in any other way is destroyed, so no call inherits a
 * broken connection or another call's session state.
 */
async function runStatement(
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
  try {
    await until(
      client.query(limits.readOnly ? "begin read only" : "begin read write"),
    );
    try {
      await until(
        client.query(`set local statement_timeout = ${limits.timeoutMs}`),
      );
      const { rows, result } = await until(
        readRows(client, request, limits.rowLimit + 1),
      );
      const oids = result.fields.map((field) => field.dataTypeID);
      await until(learnTypes(client, pool.types, oids));
      await until(client.query("commit"));
      return answerOf(rows, result, pool.types, limits);
    } catch (error) {
      await until(client.query("rollback")).catch(() => {});
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

// --- values ----------------------------------------------------------------

interface TypeInfo {
  name: string;
  /** The element type of an array type, else 0. */
  element: number;
  /** The base type of a domain, else 0. */
  base: number;
}

type Converter = (text: string) => Json;

const text: Converter = (value) => value;
const integer: Converter = (value) => Number(value);
const float: Converter = (value) => {
  const number = Number(value);
  return Number.isFinite(number) ? number : value;
};
const CONVERTERS: Record<string, Converter> = {
  bool: (value) => value === "t",
  int2: integer,
  int4: integer,
  oid: integer,
  float4: float,
  float8: float,
  json: (value) => JSON.parse(value),
  jsonb: (value) => JSON.parse(value),
  bytea: (value) => base64(value),
  timestamp: (value) => isoTimestamp(value),
  timestamptz: (value) => isoTimestamp(value),
};

// Built-in types by OID (pg_type.dat); others are looked up once per pool.
const BUILTIN: Record<number, [name: string, element: number]> = {
  16: ["bool", 0],
  17: ["bytea", 0],
  18: ["char", 0],
  19: ["name", 0],
  20: ["int8", 0],
  21: ["int2", 0],
  23: ["int4", 0],
  25: ["text", 0],
  26: ["oid", 0],
  114: ["json", 0],
  700: ["float4", 0],
  701: ["float8", 0],
  1042: ["bpchar", 0],
  1043: ["varchar", 0],
  1082: ["date", 0],
  1083: ["time", 0],
  1114: ["timestamp", 0],
  1184: ["timestamptz", 0],
  1186: ["interval", 0],
  1266: ["timetz", 0],
  1700: ["numeric", 0],
  2950: ["uuid", 0],
  3802: ["jsonb", 0],
  199: ["_json", 114],
  1000: ["_bool", 16],
  1001: ["_bytea", 17],
  1005: ["_int2", 21],
  1007: ["_int4", 23],
  1009: ["_text", 25],
  1014: ["_bpchar", 1042],
  1015: ["_varchar", 1043],
  1016: ["_int8", 20],
  1021: ["_float4", 700],
  1022: ["_float8", 701],
  1115: ["_timestamp", 1114],
  1182: ["_date", 1082],
  1185: ["_timestamptz", 1184],
  1231: ["_numeric", 1700],
  2951: ["_uuid", 2950],
  3807: ["_jsonb", 3802],
};
const TYPES_CACHED_MAX = 10_000;
const BOX = 603;

function typeInfo(
  oid: number,
  types: Map<number, TypeInfo>,
): TypeInfo | undefined {
  const builtin = BUILTIN[oid];
  if (builtin !== undefined) {
    return { name: builtin[0], element: builtin[1], base: 0 };
  }
  return types.get(oid);
}

async function learnTypes(
  client: PgClient,
  types: Map<number, TypeInfo>,
  oids: number[],
): Promise<void> {
  const missing = [...new Set(oids)].filter((oid) =>
    typeInfo(oid, types) === undefined
  );
  if (missing.length === 0) return;
  if (types.size + missing.length > TYPES_CACHED_MAX) types.clear();
  const { rows } = await client.query<
    { oid: number; typname: string; element: number; base: number }
  >(
    "select oid::int4 as oid, typname, typelem::int4 as element, " +
      "typbasetype::int4 as base from pg_type where oid = any($1::int4[])",
    [`{${missing.join(",")}}`],
  );
  for (const row of rows) {
    types.set(row.oid, {
      name: row.typname,
      element: row.element,
      base: row.base,
    });
  }
}

function typeName(oid: number, types: Map<number, TypeInfo>): string {
  const info = typeInfo(oid, types);
  if (info === undefined) return `oid:${oid}`;
  if (info.element !== 0 && info.name.startsWith("_")) {
    return `${typeName(info.element, types)}[]`;
  }
  return info.name;
}

function converterFor(
  oid: number,
  types: Map<number, TypeInfo>,
  depth = 0,
): Converter {
  const info = typeInfo(oid, types);
  if (info === undefined || depth > 8) return text;
  if (info.base !== 0) return converterFor(info.base, types, depth + 1);
  // box[] separates elements with ';' and is left as PostgreSQL writes it.
  if (info.element !== 0 && info.element !== BOX && info.name.startsWith("_")) {
    const element = converterFor(info.element, types, depth + 1);
    return (value) => mapArray(parseArrayLiteral(value), element);
  }
  return CONVERTERS[info.name] ?? text;
}

type TextArray = (string | null | TextArray)[];

function mapArray(items: TextArray, convert: Converter): Json[] {
  return items.map((item) =>
    item === null
      ? null
      : Array.isArray(item)
      ? mapArray(item, convert)
      : convert(item)
  );
}

/**
 * `{1,"a b",NULL,{2,3}}` → nested arrays of element text (null for NULL).
 * Throws on text PostgreSQL would not write, rather than loop or guess.
 */
export function parseArrayLiteral(literal: string): TextArray {
  // Non-default bounds come first: "[0:1]={1,2}".
  let position = literal.startsWith("[") ? literal.indexOf("=") + 1 : 0;
  const malformed = () =>
    new Error(
      `malformed array literal at ${position}: ${literal.slice(0, 100)}`,
    );
  const parse = (): TextArray => {
    if (literal[position] !== "{") throw malformed();
    const items: TextArray = [];
    position++;
    if (literal[position] === "}") {
      position++;
      return items;
    }
    while (position < literal.length) {
      if (literal[position] === "{") {
        items.push(parse());
      } else if (literal[position] === '"') {
        let value = "";
        position++;
        while (position < literal.length && literal[position] !== '"') {
          if (literal[position] === "\\") position++;
          value += literal[position++] ?? "";
        }
        position++;
        items.push(value);
      } else {
        const end = literal.slice(position).search(/[,}]/);
        if (end < 0) throw malformed();
        const value = literal.slice(position, position + end).trim();
        position += end;
        items.push(value === "NULL" ? null : value);
      }
      const separator = literal[position++];
      if (separator === "}") return items;
      if (separator !== ",") throw malformed();
    }
    throw malformed();
  };
  return parse();
}

/** "2024-01-02 03:04:05.123456+00" → "2024-01-02T03:04:05.123456Z". */
function isoTimestamp(value: string): string {
  const match =
    /^(\d{4,}-\d\d-\d\d) (\d\d:\d\d:\d\d(?:\.\d+)?)([+-]\d\d(?::\d\d){0,2})?$/
      .exec(value);
  if (match === null) return value; // infinity, -infinity, BC dates
  const [, date, time, offset] = match;
  if (offset === undefined) return `${date}T${time}`;
  if (offset === "+00") return `${date}T${time}Z`;
  return `${date}T${time}${offset.length === 3 ? `${offset}:00` : offset}`;
}

function base64(hex: string): string {
  const digits = hex.startsWith("\\x") ? hex.slice(2) : hex;
  let binary = "";
  for (let index = 0; index < digits.length; index += 2) {
    binary += String.fromCharCode(parseInt(digits.slice(index, index + 2), 16));
  }
  return btoa(binary);
}

// --- errors ----------------------------------------------------------------

/** Node's codes for a connection that failed or broke. */
const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EPIPE",
]);

function sqlstateCode(sqlstate: string): ErrorCode {
  if (sqlstate === "25006") return "ERR_SQL_READ_ONLY";
  if (sqlstate === "57014") return "ERR_SQL_TIMEOUT";
  // Class 42 is the statement (syntax, unknown table or column, types),
  // 08P01 a parameter count the statement does not take, 22P02 a
  // parameter that is not valid text for its type. 42501 is a privilege.
  if (
    (sqlstate.startsWith("42") && sqlstate !== "42501") ||
    sqlstate === "08P01" || sqlstate === "22P02"
  ) {
    return "ERR_SQL_INVALID_QUERY";
  }
  if (
    sqlstate.startsWith("08") || sqlstate === "57P01" || sqlstate === "57P02" ||
    sqlstate === "57P03" || sqlstate === "53300"
  ) {
    return "ERR_SQL_CONNECTION";
  }
  return "ERR_SQL_ERROR";
}

/** Everything a message could leak: URLs and passwords, raw and decoded. */
function secretsOf(datasources: Record<string, SqlDatasource>): string[] {
  const secrets = new Set<string>();
  for (const source of Object.values(datasources)) {
    for (const url of [source.url, source.readOnlyUrl]) {
      if (url === undefined) continue;
      secrets.add(url);
      try {
        const password = new URL(url).password;
        if (password !== "") {
          secrets.add(password);
          secrets.add(decodeURIComponent(password));
        }
      } catch {
        // not a URL pg can use either; the URL itself is scrubbed
      }
    }
  }
  // Longest first, so a URL is scrubbed whole before its password is.
  return [...secrets].filter((secret) => secret.length > 0).sort((a, b) =>
    b.length - a.length
  );
}

function scrub(value: string, secrets: string[]): string {
  return secrets.reduce(
    (text, secret) => text.replaceAll(secret, "***"),
    value,
  );
}

interface DriverError {
  code?: unknown;
  message?: unknown;
  errors?: unknown;
}

/** Maps a driver or server error to the catalog, without credentials. */
function classify(
  error: unknown,
  datasource: string,
  secrets: string[],
): AosError {
  if (error instanceof AosError) return error;
  if (error instanceof pg.DatabaseError) {
    const sqlstate = error.code ?? "";
    const details: Record<string, unknown> = { datasource, sqlstate };
    if (error.position) details.position = Number(error.position);
    if (error.detail) details.detail = scrub(error.detail, secrets);
    if (error.hint) details.hint = scrub(error.hint, secrets);
    return new AosError(sqlstateCode(sqlstate), scrub(error.message, secrets), {
      cause: error,
      details,
    });
  }
  const failure = (error ?? {}) as DriverError;
  // Node reports a host with several addresses as an AggregateError.
  const first = Array.isArray(failure.errors)
    ? failure.errors[0] as DriverError
    : failure;
  const code = typeof first.code === "string" ? first.code : "";
  if (CONNECTION_CODES.has(code)) {
    return new AosError(
      "ERR_SQL_CONNECTION",
      `cannot reach datasource "${datasource}" (${code})`,
      { cause: error, details: { datasource, reason: code } },
    );
  }
  // pg's own connection failures (terminated, timed out, refused during
  // authentication) are plain Errors without a code.
  const message = scrub(String(first.message ?? error), secrets);
  return new AosError(
    "ERR_SQL_CONNECTION",
    `cannot use datasource "${datasource}": ${message}`,
    { cause: error, details: { datasource, reason: "connection_failed" } },
  );
}
