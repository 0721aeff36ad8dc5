/**
 * `history`: the same measurements on a store holding 10,000 records and
 * one holding 1,000,000, to show that the cost of a run and of listing runs
 * does not grow with history. The history is real logs (copies of a run the
 * server made, re-sealed under new run ids) written through the store.
 */
import { join } from "node:path";
import { SqliteStore } from "../src/store/mod.ts";
import { ApiClient } from "./_http.ts";
import { type BenchResult, percentile } from "./_report.ts";
import { BenchServer } from "./_server.ts";
import { round, threeStepPlan } from "./runs_scenario.ts";
import { fillHistory, type LogTemplate } from "./store_scenarios.ts";

/** Sizes of the scenario. */
export interface HistoryOptions {
  recordsSmall: number;
  recordsLarge: number;
  sequentialRuns: number;
  concurrency: number;
  loadSeconds: number;
  listRequests: number;
  key?: string;
  env?: Record<string, string>;
}

/** The defaults: 10k against 1M records. */
export const HISTORY_DEFAULTS: HistoryOptions = {
  recordsSmall: 10_000,
  recordsLarge: 1_000_000,
  sequentialRuns: 200,
  concurrency: 32,
  loadSeconds: 5,
  listRequests: 200,
};

interface Measured {
  runsPerS: number;
  sequentialP50Ms: number;
  listFirstP50Ms: number;
  listDeepP50Ms: number;
  listRunningP50Ms: number;
}

/** Runs the scenario; takes a while at the defaults (1M records are written). */
export async function historyScenario(
  options: HistoryOptions = HISTORY_DEFAULTS,
): Promise<BenchResult> {
  const dataDir = await Deno.makeTempDir({ prefix: "aos_bench_history_" });
  try {
    const { template, tenant } = await captureRun(dataDir, options);
    let records = 0;
    const fill = async (recordsMin: number) => {
      const store = SqliteStore.open(join(dataDir, "aos.db"));
      try {
        records += await fillHistory(store, template, {
          recordsMin: recordsMin - records,
          tenant,
          // Older than anything the server creates, as history is.
          startMs: Date.UTC(2020, 0, 1),
          firstRun: records / template.length,
        });
      } finally {
        await store.close();
      }
    };
    await fill(options.recordsSmall);
    const small = await measure(dataDir, options);
    await fill(options.recordsLarge);
    const large = await measure(dataDir, options);
    const ratio = (a: number, b: number) => round(a / b, 3);
    return {
      scenario: "history",
      figures: {
        runs_per_s_small: small.runsPerS,
        runs_per_s_large: large.runsPerS,
        sequential_p50_ms_small: small.sequentialP50Ms,
        sequential_p50_ms_large: large.sequentialP50Ms,
        list_p50_ms_small: small.listFirstP50Ms,
        list_p50_ms_large: large.listFirstP50Ms,
        list_deep_p50_ms_small: small.listDeepP50Ms,
        list_deep_p50_ms_large: large.listDeepP50Ms,
        list_running_p50_ms_small: small.listRunningP50Ms,
        list_running_p50_ms_large: large.listRunningP50Ms,
        // Large over small: how much slower (or less) history makes things.
        runs_per_s_ratio: ratio(large.runsPerS, small.runsPerS),
        sequential_p50_ratio: ratio(
          large.sequentialP50Ms,
          small.sequentialP50Ms,
        ),
        list_p50_ratio: ratio(large.listFirstP50Ms, small.listFirstP50Ms),
        list_deep_p50_ratio: ratio(large.listDeepP50Ms, small.listDeepP50Ms),
        list_running_p50_ratio: ratio(
          large.listRunningP50Ms,
          small.listRunningP50Ms,
        ),
      },
      targets: {
        runs_per_s_ratio: { op: ">=", value: 0.9 },
        sequential_p50_ratio: { op: "<=", value: 1.1 },
        list_p50_ratio: { op: "<=", value: 1.1 },
        list_deep_p50_ratio: { op: "<=", value: 1.1 },
        list_running_p50_ratio: { op: "<=", value: 1.1 },
      },
      directions: {
        runs_per_s_small: "higher",
        runs_per_s_large: "higher",
        runs_per_s_ratio: "higher",
      },
      notes:
        `store with ${options.recordsSmall} records, then ${records} (${options.recordsLarge} asked); per size: ${options.sequentialRuns} sequential runs, ${options.concurrency} lanes for ${options.loadSeconds} s, ${options.listRequests} GET /v1/runs?limit=50 (first page; a page 20 pages deep; status=running)`,
    };
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
}

/** Runs one real run to copy its log; returns the log and the run's tenant. */
async function captureRun(
  dataDir: string,
  options: HistoryOptions,
): Promise<{ template: LogTemplate; tenant: string }> {
  const server = await BenchServer.start({ dataDir, env: options.env ?? {} });
  try {
    const client = new ApiClient(server.url, { key: options.key });
    const runId = await client.runToEnd(threeStepPlan(0));
    const view = await client.get(`/v1/runs/${runId}`);
    const events = await client.get(`/v1/runs/${runId}/events`);
    const template = (events.body.events as LogTemplate[number][]).map((
      record,
    ) => ({ type: record.type, body: record.body, at: record.at }));
    return { template, tenant: String(view.body.tenant) };
  } finally {
    await server.stop();
  }
}

async function measure(
  dataDir: string,
  options: HistoryOptions,
): Promise<Measured> {
  const server = await BenchServer.start({ dataDir, env: options.env ?? {} });
  try {
    const client = new ApiClient(server.url, { key: options.key });
    for (let run = 0; run < 50; run++) {
      await client.runToEnd(threeStepPlan(run));
    }
    const sequentialMs: number[] = [];
    for (let run = 0; run < options.sequentialRuns; run++) {
      const started = performance.now();
      await client.runToEnd(threeStepPlan(run));
      sequentialMs.push(performance.now() - started);
    }
    let index = 0;
    let runs = 0;
    const started = performance.now();
    const endAt = started + options.loadSeconds * 1000;
    await Promise.all(
      Array.from({ length: options.concurrency }, async () => {
        while (performance.now() < endAt) {
          await client.runToEnd(threeStepPlan(index++));
          runs++;
        }
      }),
    );
    const runsPerS = runs / ((performance.now() - started) / 1000);
    // A page 20 pages deep (or the last one, in a small store).
    let cursor = "";
    for (let page = 0; page < 20; page++) {
      const listed = await client.get(`/v1/runs?limit=50${cursor}`);
      const next = listed.body.next_cursor;
      if (typeof next !== "string") break;
      cursor = `&cursor=${encodeURIComponent(next)}`;
    }
    return {
      runsPerS: round(runsPerS, 0),
      sequentialP50Ms: p50(sequentialMs),
      listFirstP50Ms: p50(
        await timeRequests(client, "/v1/runs?limit=50", options.listRequests),
      ),
      listDeepP50Ms: p50(
        await timeRequests(
          client,
          `/v1/runs?limit=50${cursor}`,
          options.listRequests,
        ),
      ),
      listRunningP50Ms: p50(
        await timeRequests(
          client,
          "/v1/runs?limit=50&status=running",
          options.listRequests,
        ),
      ),
    };
  } finally {
    await server.stop();
  }
}

async function timeRequests(
  client: ApiClient,
  path: string,
  count: number,
): Promise<number[]> {
  const latenciesMs: number[] = [];
  for (let request = 0; request < count; request++) {
    const started = performance.now();
    const response = await client.get(path);
    latenciesMs.push(performance.now() - started);
    if (response.status !== 200) {
      throw new Error(`GET ${path} answered ${response.status}`);
    }
  }
  return latenciesMs;
}

function p50(valuesMs: number[]): number {
  return round(percentile([...valuesMs].sort((a, b) => a - b), 0.5), 3);
}
