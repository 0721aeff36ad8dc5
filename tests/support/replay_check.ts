import assert from "node:assert/strict";
import { liveClock, liveRandom } from "../../src/deps/mod.ts";
import { replayLog } from "../../src/replay/mod.ts";
import { type ModuleSource, Sandbox } from "../../src/sandbox/mod.ts";
import type { LogRecord } from "../../src/store/mod.ts";
import { openTestNode } from "./test_node.ts";

/**
 * Replays logs in a fresh sandbox with no HTTP gateway and no host services,
 * so every answer must come from the log, and asserts each is identical.
 */
export async function assertLogsReplay(
  modules: ModuleSource,
  logs: readonly LogRecord[][],
): Promise<void> {
  const sandbox = new Sandbox({
    modules,
    clock: liveClock,
    random: liveRandom,
  });
  try {
    for (const records of logs) {
      const report = await replayLog(records, sandbox);
      assert.equal(
        report.verdict,
        "identical",
        `${records[0]?.run_id}: ${JSON.stringify(report.divergence)}`,
      );
    }
  } finally {
    await sandbox.close();
  }
}

/** Reopens a node's data folder and asserts the given runs replay identically. */
export async function assertRunsReplay(
  dataDir: string,
  runIds: readonly string[],
): Promise<void> {
  const node = await openTestNode({ dataDir });
  try {
    const logs = await Promise.all(
      runIds.map((runId) => node.store.readLog(runId)),
    );
    await assertLogsReplay(node.registry, logs);
  } finally {
    await node.close();
  }
}
