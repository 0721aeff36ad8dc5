import { parseArgs } from "node:util";
import { join } from "node:path";
import { EXIT } from "../cli/mod.ts";
import { migratePostgres } from "./postgres_open.ts";
import { SqliteStore } from "./sqlite_store.ts";

const USAGE = `usage: aos migrate [--store postgres://… | --data DIR]
  Applies the store's pending schema migrations and exits. The store is
  --store, else DATABASE_URL, else the SQLite file under --data (./data).
  Nodes also migrate at start; this runs it ahead of a rollout.`;

/** `aos migrate`: brings the store's schema up to date. */
export async function migrateCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      store: { type: "string" },
      data: { type: "string" },
      help: { type: "boolean" },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    console.log(USAGE);
    return EXIT.ok;
  }
  const url = values.store ?? Deno.env.get("DATABASE_URL") ?? "";
  if (/^postgres(ql)?:\/\//.test(url)) {
    const applied = await migratePostgres(url);
    console.log(
      applied.length === 0
        ? "postgres: schema up to date"
        : `postgres: applied migrations ${applied.join(", ")}`,
    );
    return EXIT.ok;
  }
  if (url !== "" && url !== "sqlite") {
    console.error(`aos migrate: --store must be sqlite or a postgres:// URL`);
    return EXIT.usage;
  }
  const dataDir = values.data ?? Deno.env.get("AOS_DATA_DIR") ?? "./data";
  await Deno.mkdir(dataDir, { recursive: true });
  // Opening the SQLite store applies its migrations.
  await SqliteStore.open(join(dataDir, "aos.db")).close();
  console.log(`sqlite: schema up to date in ${join(dataDir, "aos.db")}`);
  return EXIT.ok;
}
