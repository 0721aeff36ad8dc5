import pgUntyped from "pg";
import { AosError } from "../errors/mod.ts";
import { ReservationNotGranted } from "./store.ts";

/** A result row; int8 columns arrive as strings. */
export type PgRow = Record<string, unknown>;

/**
 * A statement with a name: each connection parses and plans it once (at its
 * first use there) and afterwards only binds and executes it.
 */
export interface PgNamedQuery {
  name: string;
  text: string;
  values: unknown[];
}

/** A query of the store's pool that answers the rows (`PostgresStore`'s own). */
export type PgRowQuery = (
  text: string | PgNamedQuery,
  values?: unknown[],
) => Promise<PgRow[]>;

/** The part of a pg client the store uses. */
export interface PgQueryable {
  query(
    text: string | PgNamedQuery,
    values?: unknown[],
  ): Promise<{ rows: PgRow[]; rowCount: number | null }>;
}

/**
 * A prepared statement of the store: `statement(values)` is the query to
 * send. Names are unique per text (pg refuses one name for two texts).
 */
export function prepared(
  name: string,
  text: string,
): (values: unknown[]) => PgNamedQuery {
  return (values) => ({ name, text, values });
}

/** A connection checked out of the pool. */
export interface PgPoolClient extends PgQueryable {
  /** Returns the connection; with an error the pool discards it. */
  release(error?: Error | boolean): void;
  on(event: "error", listener: (error: Error) => void): void;
  off(event: "error", listener: (error: Error) => void): void;
}

/** pg's pool, as the store uses it. */
export interface PgPool extends PgQueryable {
  /** Connections open, and how many of them are idle. */
  readonly totalCount: number;
  readonly idleCount: number;
  connect(): Promise<PgPoolClient>;
  end(): Promise<void>;
  on(event: "error", listener: (error: Error) => void): void;
}

/** One dedicated connection (the LISTEN side). */
export interface PgClient extends PgQueryable {
  connect(): Promise<void>;
  end(): Promise<void>;
  on(event: "error", listener: (error: Error) => void): void;
  on(event: "end", listener: () => void): void;
  on(
    event: "notification",
    listener: (message: { channel: string; payload?: string }) => void,
  ): void;
}

interface PgConfig {
  connectionString: string;
  max?: number;
  connectionTimeoutMillis?: number;
  idleTimeoutMillis?: number;
  keepAlive?: boolean;
  application_name?: string;
}

// pg ships no types, and @types/pg would bring @types/node, which replaces
// Deno's own node types for every file checked with it.
export const pg = pgUntyped as {
  Pool: new (config: PgConfig) => PgPool;
  Client: new (config: PgConfig) => PgClient;
};

// SQLSTATE classes and codes that mean "the server is not there right now",
// not "the statement is wrong": connection exceptions (08), operator
// intervention (57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot
// connect now), insufficient resources (53) and a deadlock victim (40P01).
const UNAVAILABLE_SQLSTATE = /^(08...|57P0[123]|53...|40P01)$/;
const SQLSTATE = /^[0-9A-Z]{5}$/;

/**
 * True when `error` says the database could not be reached or went away:
 * an SQLSTATE of the classes above, or an error without an SQLSTATE at all
 * (refused or reset sockets, "Connection terminated", a connect timeout).
 */
export function isUnavailable(error: unknown): boolean {
  if (error instanceof AosError) return error.code === "STORE_UNAVAILABLE";
  // The store's own answer, not the driver's.
  if (error instanceof ReservationNotGranted) return false;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string" && SQLSTATE.test(code)) {
    return UNAVAILABLE_SQLSTATE.test(code);
  }
  return error instanceof Error;
}

/**
 * Rethrows a driver error in catalog terms: unavailability becomes
 * STORE_UNAVAILABLE (the API answers 503 with Retry-After); catalog errors
 * and statement errors pass through unchanged.
 */
export function storeError(error: unknown): unknown {
  if (error instanceof AosError || !isUnavailable(error)) return error;
  return new AosError(
    "STORE_UNAVAILABLE",
    `the PostgreSQL store is unavailable: ${
      error instanceof Error ? error.message : String(error)
    }`,
    { cause: error },
  );
}
