import { pg, storeError } from "./_pg_driver.ts";
import { POSTGRES_MIGRATIONS } from "./_pg_schema.ts";

// Any constant works; it only has to be the same for every AOS process.
const MIGRATION_LOCK_KEY = 0x414f535f; // "AOS_"

/**
 * Applies the PostgreSQL store's pending migrations, in order, each in the
 * one transaction; returns the versions applied. Several nodes starting at
 * once serialize on an advisory lock, so each migration runs exactly once.
 */
export async function migratePostgres(url: string): Promise<number[]> {
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: 5_000,
    application_name: "aos-migrate",
  });
  client.on("error", () => {});
  try {
    await client.connect();
    await client.query("BEGIN");
    await client.query("SELECT pg_advisory_xact_lock($1)", [
      MIGRATION_LOCK_KEY,
    ]);
    await client.query(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)",
    );
    const { rows } = await client.query(
      "SELECT COALESCE(MAX(version), 0) AS version FROM schema_migrations",
    );
    const current = Number(rows[0]?.version ?? 0);
    const applied: number[] = [];
    for (const migration of POSTGRES_MIGRATIONS) {
      if (migration.version <= current) continue;
      await client.query(migration.sql);
      await client.query(
        "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
        [migration.version, Date.now()],
      );
      applied.push(migration.version);
    }
    await client.query("COMMIT");
    return applied;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw storeError(error);
  } finally {
    await client.end().catch(() => {});
  }
}
