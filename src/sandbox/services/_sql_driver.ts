/**
 * The members of pg (node-postgres) and pg-cursor this service uses, and one
 * pool per datasource and role.
 *
 * pg and pg-cursor ship no types, and @types/pg would bring @types/node,
 * which replaces Deno's own node types for every file checked with it (and
 * breaks their node:assert calls).
 *
 * @module
 */
import pgUntyped from "pg";
import CursorUntyped from "pg-cursor";
import type { TypeInfo } from "./_sql_types.ts";

export interface PgField {
  name: string;
  dataTypeID: number;
}

export interface PgResult<Row> {
  rows: Row[];
  command: string | null;
  rowCount: number | null;
  fields: PgField[];
}

export interface PgCursor {
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

export interface PgClient {
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

export interface PgPool {
  connect(): Promise<PgClient>;
  on(event: "error", listener: (error: Error) => void): void;
  end(): Promise<void>;
}

export interface PgDatabaseError extends Error {
  code?: string;
  severity?: string;
  position?: string;
  detail?: string;
  hint?: string;
}

export const pg = pgUntyped as {
  Pool: new (config: Record<string, unknown>) => PgPool;
  DatabaseError: abstract new (...args: never[]) => PgDatabaseError;
};
export const Cursor = CursorUntyped as new (
  text: string,
  values: (string | null)[],
  config: { rowMode: "array"; types: typeof RAW_TEXT },
) => PgCursor;

export type RawRow = (string | null)[];

// Startup options, so value text does not depend on the server's or role's
// settings; DISCARD ALL resets to these, not to the server defaults.
export const SESSION_OPTIONS = [
  "-c TimeZone=UTC",
  "-c DateStyle=ISO,MDY",
  "-c IntervalStyle=iso_8601",
  "-c bytea_output=hex",
  "-c extra_float_digits=1",
].join(" ");

// Every value as the text PostgreSQL sent; converterFor() reads it by type.
export const RAW_TEXT = { getTypeParser: () => (value: string) => value };

/** What a pool is sized by. */
export interface PoolLimits {
  connectionsMax: number;
  connectTimeoutMs: number;
}

/** One pg pool and what this service learned about its types. */
export class Pool {
  readonly pg: PgPool;
  /** Type names and base types by OID, learned from pg_type. */
  readonly types = new Map<number, TypeInfo>();
  #ending: Promise<void> | undefined;

  constructor(url: string, limits: PoolLimits) {
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
