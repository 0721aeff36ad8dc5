import { join } from "node:path";
import type { NodeConfig } from "../config/mod.ts";
import { openPostgresStore, SqliteStore, type Store } from "../store/mod.ts";

/**
 * The store `config.store` names: the embedded SQLite file under `dataDir`,
 * or PostgreSQL at a `postgres://` URL (migrated on open).
 */
export async function openStore(
  config: Pick<NodeConfig, "store" | "dataDir">,
): Promise<Store> {
  if (config.store === "sqlite") {
    await Deno.mkdir(config.dataDir, { recursive: true });
    return SqliteStore.open(join(config.dataDir, "aos.db"));
  }
  return await openPostgresStore(config.store);
}
