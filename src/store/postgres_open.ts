// The PostgreSQL store's entry points, loaded on demand: its driver (pg and
// its dependencies, about 13 MB resident) is imported only by a process that
// opens or migrates a PostgreSQL store, never by a node on SQLite.
import type { PostgresStore, PostgresStoreOptions } from "./postgres_store.ts";

/** Opens (and, unless told not to, migrates) the PostgreSQL store at `url`. */
export async function openPostgresStore(
  url: string,
  options: PostgresStoreOptions = {},
): Promise<PostgresStore> {
  const { PostgresStore } = await import("./postgres_store.ts");
  return await PostgresStore.open(url, options);
}

/** Applies the pending schema migrations; resolves with the versions applied. */
export async function migratePostgres(url: string): Promise<number[]> {
  const migrations = await import("./postgres_migrate.ts");
  return await migrations.migratePostgres(url);
}
