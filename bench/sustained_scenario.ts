/**
 * `sustained` and `sustained_postgres`: the `runs` load held for a minute,
 * runs/s counted per window, to show that a run costs the store no more at
 * the end than at the start. A 10 s measurement cannot: the admission count
 * once read an index entry of every run ended since the last vacuum, and
 * throughput halved within 75 s of steady load until autovacuum came round
 * (`docs/benchmarks.md`).
 */
import { startTestPostgres } from "../tests/support/postgres.ts";
import { ApiClient } from "./_http.ts";
import { type BenchResult, percentile } from "./_report.ts";
import { BenchServer } from "./_server.ts";
import { round, threeStepPlan } from "./runs_scenario.ts";

/** Sizes of the scenario. */
export interface SustainedOptions {
  warmupRuns: number;
  concurrency: number;
  /** How long the load is held. */
  loadSeconds: number;
  /** The load's windows, each counted apart. */
  windows: number;
  key?: string;
  env?: Record<string, string>;
}

/** The smoke variant's sizes (CI): it checks the scenario runs, not the trend. */
export const SUSTAINED_SMOKE: SustainedOptions = {
  warmupRuns: 20,
  concurrency: 8,
  loadSeconds: 4,
  windows: 2,
};

/** The defaults: 32 lanes for 60 s, in six windows of 10 s. */
export const SUSTAINED_DEFAULTS: SustainedOptions = {
  warmupRuns: 300,
  concurrency: 32,
  loadSeconds: 60,
  windows: 6,
};

/** `sustained`: the scenario on the embedded SQLite store (`synchronous=FULL`). */
export async function sustainedScenario(
  options: SustainedOptions = SUSTAINED_DEFAULTS,
): Promise<BenchResult> {
  const result = await sustainedOn([], "sustained", options);
  return {
    ...result,
    notes: `${result.notes}; SQLite synchronous=FULL`,
  };
}

/** Runs the scenario on a durable throwaway PostgreSQL (or DATABASE_URL's server). */
export async function sustainedOnPostgres(
  options: SustainedOptions = SUSTAINED_DEFAULTS,
): Promise<BenchResult> {
  await using database = await startTestPostgres({ durable: true });
  const result = await sustainedOn(
    ["--store", database.url],
    "sustained_postgres",
    options,
  );
  return {
    ...result,
    notes:
      `${result.notes}; a throwaway local PostgreSQL 15 with fsync, synchronous_commit and full_page_writes on, or DATABASE_URL's server`,
  };
}

async function sustainedOn(
  args: string[],
  scenario: string,
  options: SustainedOptions,
): Promise<BenchResult> {
  const dataDir = await Deno.makeTempDir({ prefix: "aos_bench_sustained_" });
  const server = await BenchServer.start({
    dataDir,
    env: { ...options.env },
    args,
  });
  try {
    const client = new ApiClient(server.url, { key: options.key });
    let index = 0;
    for (let run = 0; run < options.warmupRuns; run++) {
      await client.runToEnd(threeStepPlan(index++));
    }
    const windowMs = options.loadSeconds * 1000 / options.windows;
    const ended = new Array<number>(options.windows).fill(0);
    const started = performance.now();
    const endAt = started + options.loadSeconds * 1000;
    await Promise.all(
      Array.from({ length: options.concurrency }, async () => {
        while (performance.now() < endAt) {
          await client.runToEnd(threeStepPlan(index++));
          const window = Math.floor((performance.now() - started) / windowMs);
          ended[Math.min(window, options.windows - 1)]!++;
        }
      }),
    );
    const perWindow = ended.map((runs) => runs / (windowMs / 1000));
    const first = perWindow[0]!;
    const last = perWindow[perWindow.length - 1]!;
    const sorted = [...perWindow].sort((a, b) => a - b);
    const failures = client.failedRuns.length;
    return {
      scenario,
      figures: {
        runs_per_s_first_window: round(first, 0),
        runs_per_s_last_window: round(last, 0),
        runs_per_s_median_window: round(percentile(sorted, 0.5), 0),
        runs_per_s_lowest_window: round(sorted[0]!, 0),
        last_over_first: round(last / first, 3),
        failed_runs: failures,
      },
      // The project's own bound, as for `history`: a minute of load may not
      // make a run cost more than 10% more.
      targets: {
        last_over_first: { op: ">=", value: 0.9 },
        failed_runs: { op: "<=", value: 0 },
      },
      directions: {
        runs_per_s_first_window: "higher",
        runs_per_s_last_window: "higher",
        runs_per_s_median_window: "higher",
        runs_per_s_lowest_window: "higher",
        last_over_first: "higher",
      },
      notes:
        `${options.warmupRuns} warm-up runs, then ${options.concurrency} lanes for ${options.loadSeconds} s, runs ended counted in ${options.windows} windows (runs/s per window: ${
          perWindow.map((value) => round(value, 0)).join(", ")
        }); each run submits with POST /v1/runs and waits with GET /v1/runs/:id?wait_ms`,
    };
  } finally {
    await server.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
}
