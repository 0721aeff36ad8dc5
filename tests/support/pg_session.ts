/**
 * A held PostgreSQL session for tests that coordinate concurrent
 * transactions (serialization failures, deadlocks): statements run one at a
 * time on one connection, so a transaction stays open between calls, and
 * `waitForLockWaits` tells when other sessions are blocked on a lock, so a
 * test orders its sessions by what the server reports instead of by sleeps.
 *
 * @module
 */
import pgUntyped from "pg";

// pg ships no types; these are the members used here.
interface PgClient {
  on(event: "error", listener: (error: Error) => void): void;
  connect(): Promise<void>;
  query(
    text: string,
    values?: unknown[],
  ): Promise<{ rows: Record<string, unknown>[] }>;
  end(): Promise<void>;
}
const pg = pgUntyped as {
  Client: new (config: { connectionString: string }) => PgClient;
};

/** One connection, held until disposed. */
export interface PgSession extends AsyncDisposable {
  /** The server process serving this session. */
  readonly pid: number;
  /** Runs one statement and returns its rows. */
  query(
    text: string,
    values?: unknown[],
  ): Promise<Record<string, unknown>[]>;
}

/** Opens a session on `url` (application_name `aos_test_session`). */
export async function openPgSession(url: string): Promise<PgSession> {
  const address = new URL(url);
  address.searchParams.set("application_name", "aos_test_session");
  const client = new pg.Client({ connectionString: address.href });
  client.on("error", () => {});
  await client.connect();
  const { rows } = await client.query("select pg_backend_pid() as pid");
  return {
    pid: Number(rows[0]!.pid),
    query: async (text, values) => (await client.query(text, values)).rows,
    [Symbol.asyncDispose]: () => client.end(),
  };
}

/** What `waitForLockWaits` waits for. */
export interface LockWaitQuery {
  /** Sessions of this application_name (the SQL service's is `aos`)… */
  applicationName?: string;
  /** …or these server processes. */
  pids?: number[];
  /** How many of them must be waiting (default 1). */
  count?: number;
  /** Giving up (default 30 s): an assertion error, not a hang. */
  timeoutMs?: number;
}

/**
 * Resolves with the pids of the sessions that wait on a heavyweight lock
 * (a row, a transaction, an advisory lock) in `url`'s database, once at
 * least `query.count` of those asked about do. Polls pg_stat_activity; a
 * wait that has begun stays visible until the lock is granted, so nothing
 * is missed between polls.
 */
export async function waitForLockWaits(
  url: string,
  query: LockWaitQuery,
): Promise<number[]> {
  const count = query.count ?? 1;
  const deadline = Date.now() + (query.timeoutMs ?? 30_000);
  await using probe = await openPgSession(url);
  while (true) {
    const rows = await probe.query(
      `select pid from pg_stat_activity
        where datname = current_database() and wait_event_type = 'Lock'
          and (application_name = $1 or pid = any($2::int4[]))
        order by pid`,
      [query.applicationName ?? null, `{${(query.pids ?? []).join(",")}}`],
    );
    if (rows.length >= count) return rows.map((row) => Number(row.pid));
    if (Date.now() > deadline) {
      throw new Error(
        `waitForLockWaits: ${rows.length} of ${count} sessions waiting on a lock after ${
          query.timeoutMs ?? 30_000
        } ms`,
      );
    }
  }
}
