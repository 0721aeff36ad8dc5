import { PostgresStore } from "./postgres_store.ts";
import { storeContract } from "./store_contract.ts";
import { startTestPostgres } from "../../tests/support/postgres.ts";

// One database for the file (a throwaway server, or one on DATABASE_URL's);
// every test starts from an empty schema. Tests of a file run one at a time.
const database = await startTestPostgres();

storeContract("postgres", {
  async open() {
    await database.exec(
      "DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public",
    );
    return {
      store: await PostgresStore.open(database.url),
      second: () => PostgresStore.open(database.url),
    };
  },
});

// Registered last, so it runs after the contract; an interrupted run leaves
// a server that the next startTestPostgres() on the machine stops.
Deno.test("postgres store tests: stop the test database", async () => {
  await database.stop();
});
