/**
 * `replay`: how fast recorded runs are certified. A real server makes the
 * logs (three-step runs, distinct inputs, every step executed); then the
 * replayer verifies each hash chain, folds each log through the reducer and
 * re-executes every step against the pinned module with only the recorded
 * answers, several runs at a time as `aos replay` does.
 */
import { join } from "node:path";
import {
  DirectoryModules,
  REPLAY_CONCURRENCY,
  replayLog,
  replaySandbox,
} from "../src/replay/mod.ts";
import { findSkillDirs, PROJECT_ROOT } from "../src/skills/build.ts";
import { type LogRecord, SqliteStore } from "../src/store/mod.ts";
import { ApiClient, failuresOf } from "./_http.ts";
import type { BenchResult } from "./_report.ts";
import { BenchServer } from "./_server.ts";
import { round, threeStepPlan } from "./runs_scenario.ts";

/** Sizes of the scenario. */
export interface ReplayOptions {
  /** Records to certify, at least (runs are made until there are this many). */
  recordsMin: number;
  /** Runs replayed at once. */
  concurrency: number;
  key?: string;
  env?: Record<string, string>;
}

/** The defaults: 100,000 records, as many logs at once as `aos replay`. */
export const REPLAY_DEFAULTS: ReplayOptions = {
  recordsMin: 100_000,
  concurrency: REPLAY_CONCURRENCY,
};

/** Runs the scenario: makes the logs, then times their certification. */
export async function replayScenario(
  options: ReplayOptions = REPLAY_DEFAULTS,
): Promise<BenchResult> {
  const dataDir = await Deno.makeTempDir({ prefix: "aos_bench_replay_" });
  try {
    const failures = await makeLogs(dataDir, options);
    const store = SqliteStore.open(join(dataDir, "aos.db"));
    // The sandbox `aos replay` certifies with (every worker of a pool
    // started as soon as one is needed).
    const sandbox = replaySandbox(
      new DirectoryModules(findSkillDirs(PROJECT_ROOT, { fixtures: false })),
    );
    try {
      const runIds: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.listRuns({
          limit: 1000,
          ...(cursor === undefined ? {} : { cursor }),
        });
        runIds.push(...page.runs.map((run) => run.run_id));
        cursor = page.next_cursor ?? undefined;
      } while (cursor !== undefined);
      // Warm the module's pool, every worker of it (as many logs at once as
      // are timed), so that its start-up is not timed.
      await Promise.all(
        runIds.slice(0, options.concurrency).map(async (runId) =>
          replayLog(await store.readLog(runId), sandbox)
        ),
      );
      let records = 0;
      let diverged = 0;
      const divergences: string[] = [];
      let next = 0;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: options.concurrency }, async () => {
          while (next < runIds.length) {
            const log: LogRecord[] = await store.readLog(runIds[next++]!);
            const report = await replayLog(log, sandbox);
            records += report.records;
            if (report.verdict !== "identical") {
              diverged++;
              divergences.push(
                `${report.run_id} record ${report.divergence?.index} ${report.divergence?.class}: ${report.divergence?.message}`,
              );
            }
          }
        }),
      );
      const seconds = (performance.now() - started) / 1000;
      return {
        scenario: "replay",
        figures: {
          records_per_s: round(records / seconds, 0),
          runs_per_s: round(runIds.length / seconds, 0),
          records,
          diverged,
          // Runs that did not succeed while the logs were made (replayed too).
          failed_runs: failures.count,
        },
        targets: {
          records_per_s: { op: ">=", value: 50_000 },
          diverged: { op: "<=", value: 0 },
        },
        directions: {
          records: "higher",
          diverged: "lower",
          failed_runs: "lower",
        },
        notes:
          `${runIds.length} three-step json_transform runs (${records} records) read from SQLite and certified, ${options.concurrency} at a time: chain check, reducer fold, every step re-executed in the sandbox${failures.note}${
            divergences.length === 0
              ? ""
              : `; diverged: ${divergences.slice(0, 5).join("; ")}`
          }`,
      };
    } finally {
      await sandbox.close();
      await store.close();
    }
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
}

/** Has a real server make runs until their logs hold `recordsMin` records. */
async function makeLogs(
  dataDir: string,
  options: ReplayOptions,
): Promise<{ count: number; note: string }> {
  const server = await BenchServer.start({ dataDir, env: options.env ?? {} });
  try {
    const client = new ApiClient(server.url, { key: options.key });
    const firstId = await client.runToEnd(threeStepPlan(0));
    const perRun = Number(
      (await client.get(`/v1/runs/${firstId}`)).body.records,
    );
    const runs = Math.ceil(options.recordsMin / perRun);
    let next = 1;
    await Promise.all(Array.from({ length: 32 }, async () => {
      while (next < runs) await client.runToEnd(threeStepPlan(next++));
    }));
    return failuresOf(client);
  } finally {
    await server.stop();
  }
}
