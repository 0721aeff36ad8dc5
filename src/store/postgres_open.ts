// The PostgreSQL store's entry points, loaded on demand: its driver (pg and
// its dependencies) is imported only by a process that opens or migrates a
// PostgreSQL store, never by a node on SQLite.
import type {
  PostgresStore as LoadedPostgresStore,
  PostgresStoreOptions,
} from "./postgres_store.ts";

/** The PostgreSQL store (its class is loaded by `open`). */
export type PostgresStore = LoadedPostgresStore;

/** Opens (and, unless told not to, migrates) the PostgreSQL store at `url`. */
export async function openPostgresStore(
  url: string,
  options: PostgresStoreOptions = {},
): Promise<PostgresStore> {
  const loaded = await import("./postgres_store.ts");
  return await loaded.PostgresStore.open(url, options);
}

/** `PostgresStore.open(url)` as on the class, which it loads first. */
export const PostgresStore = { open: openPostgresStore } as const;

/** Applies the pending schema migrations; resolves with the versions applied. */
export async function migratePostgres(url: string): Promise<number[]> {
  const migrations = await import("./postgres_migrate.ts");
  return await migrations.migratePostgres(url);
}
