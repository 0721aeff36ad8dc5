import assert from "node:assert/strict";
import { join } from "node:path";
import { SqliteStore } from "./sqlite_store.ts";
import { fakeLog, storeContract } from "./store_contract.ts";

storeContract("sqlite", {
  open() {
    const dir = Deno.makeTempDirSync({ prefix: "aos-sqlite-" });
    const path = join(dir, "aos.db");
    return Promise.resolve({
      store: SqliteStore.open(path),
      second: () => Promise.resolve(SqliteStore.open(path)),
    });
  },
});

Deno.test("SqliteStore keeps records across a reopen, in WAL mode", async () => {
  const path = join(Deno.makeTempDirSync({ prefix: "aos-sqlite-" }), "aos.db");
  const log = fakeLog("r1", 2);
  const store = SqliteStore.open(path);
  await store.createRun(log[0]!, { tenant: "t" });
  await store.append(log.slice(1));
  await store.close();
  const reopened = SqliteStore.open(path);
  assert.deepEqual(await reopened.readLog("r1"), log);
  await reopened.close();
  const probe = SqliteStore.open(path);
  assert.equal(probe.journalMode(), "wal");
  await probe.close();
});
