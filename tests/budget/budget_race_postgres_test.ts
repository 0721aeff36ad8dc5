import { openPostgresStore } from "../../src/store/mod.ts";
import { budgetRaceTest } from "../support/budget_race.ts";
import { startTestPostgres } from "../support/postgres.ts";

// A throwaway PostgreSQL (or DATABASE_URL's server): the conditional update
// of the tenant's day row, under real concurrency of pooled connections.
const database = await startTestPostgres();

budgetRaceTest("postgres", async () => {
  await database.exec(
    "DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public",
  );
  return await openPostgresStore(database.url);
});

Deno.test("postgres budget race: stop the test database", async () => {
  await database.stop();
});
