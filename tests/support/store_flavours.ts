import { PostgresStore, SqliteStore, type Store } from "../../src/store/mod.ts";
import { startTestPostgres, type TestPostgres } from "./postgres.ts";

/** A kind of store a test runs on. */
export interface StoreFlavour {
  name: "SQLite" | "PostgreSQL";
  /** A fresh, empty store of this kind. */
  open(dataDir: string): Promise<Store>;
}

/**
 * One fresh store of each kind per `open`: a SQLite file in the data dir, or
 * a PostgreSQL database emptied first (one throwaway server for the test
 * file, started on first use). The file ends with a test calling `stop()`.
 */
export function storeFlavours(): {
  flavours: StoreFlavour[];
  stop(): Promise<void>;
} {
  let postgres: TestPostgres | undefined;
  return {
    flavours: [
      {
        name: "SQLite",
        open: (dataDir) =>
          Promise.resolve(SqliteStore.open(`${dataDir}/aos.db`)),
      },
      {
        name: "PostgreSQL",
        async open() {
          postgres ??= await startTestPostgres();
          await postgres.exec(
            "DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public",
          );
          return await PostgresStore.open(postgres.url);
        },
      },
    ],
    stop: async () => await postgres?.stop(),
  };
}
