import assert from "node:assert/strict";
import { DEFAULT_CONFIG, loadNodeConfig } from "./mod.ts";

Deno.test("loadNodeConfig() reads the run log limits from AOS_RUN_LOG_* and refuses a soft limit above its hard one", () => {
  assert.deepEqual(loadNodeConfig([], {}).runLog, DEFAULT_CONFIG.runLog);
  const config = loadNodeConfig([], {
    AOS_RUN_LOG_SOFT_RECORDS: "50",
    AOS_RUN_LOG_HARD_RECORDS: "80",
    AOS_RUN_LOG_SOFT_BYTES: "1000",
    AOS_RUN_LOG_HARD_BYTES: "2000",
    AOS_RUN_SNAPSHOT_EVERY_RECORDS: "25",
  });
  assert.deepEqual(config.runLog, {
    softRecords: 50,
    hardRecords: 80,
    softBytes: 1000,
    hardBytes: 2000,
    snapshotEveryRecords: 25,
  });
  assert.throws(
    () => loadNodeConfig([], { AOS_RUN_LOG_SOFT_BYTES: "999999999999" }),
    /soft limit may not be above its hard limit/,
  );
  assert.throws(
    () => loadNodeConfig([], { AOS_RUN_LOG_HARD_RECORDS: "zero" }),
    /runLog\.hardRecords/,
  );
});
